"""A pass-through Faust agent (raw bytes in, raw bytes out): the baselines of runtime_bench.py.

Same broker, partitions, settings and producer linger as the engine; it does nothing else.
MODE=naive (default): one ``await sink.send()`` per message, acked one by one.
MODE=batched: up to BATCH events taken within WITHIN s (``stream.take_events``); every value
goes straight through ``app.producer.send`` (a delivery future each), the batch's futures are
awaited together, then the batch is acked (take_events acks it when the loop body is done).
Env: BROKER, SOURCE, SINK, WEB_PORT, PARTITIONS, APP_ID, MODE.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust

from engine.agents import tansu

tansu.install()
app = faust.App(
    os.environ.get("APP_ID", "passthrough"),
    broker=f"kafka://{os.environ['BROKER']}",
    store="memory://",
    processing_guarantee="at_least_once",
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    topic_partitions=int(os.environ.get("PARTITIONS", "4")),
    topic_allow_declare=False,
    topic_disable_leader=True,
    web_port=int(os.environ["WEB_PORT"]),
    web_bind="127.0.0.1",
    producer_linger=0.01,
    autodiscover=False,
)
RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
                       "value_serializer": "raw"}
source = app.topic(os.environ["SOURCE"], **RAW)
sink = app.topic(os.environ["SINK"], **RAW)
seen = {"n": 0}
MODE = os.environ.get("MODE", "naive")
if MODE not in ("naive", "batched"):
    raise SystemExit(f"MODE must be naive or batched, not {MODE!r}")
BATCH, WITHIN = 500, 0.05


async def naive(stream: Any) -> None:
    async for event in stream.events():
        seen["n"] += 1
        await sink.send(key=event.key, value=event.value)


async def batched(stream: Any) -> None:
    name = sink.get_topic_name()
    send = app.producer.send
    async for events in stream.take_events(BATCH, within=WITHIN):
        seen["n"] += len(events)
        futures = [await send(name, e.key, e.value, None, None, None) for e in events]
        await asyncio.gather(*futures)
        # leaving the body: take_events acks every event of the batch


passthrough = app.agent(source, name="passthrough")(naive if MODE == "naive" else batched)


@app.page("/count")
async def count(self: Any, request: Any) -> Any:
    return self.json(seen)


@app.page("/readyz")
async def readyz(self: Any, request: Any) -> Any:
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return self.json({}, status=200 if recovery.completed.is_set() else 503)


if __name__ == "__main__":
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
