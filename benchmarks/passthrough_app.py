"""A pass-through Faust agent (raw bytes in, raw bytes out): the baseline of runtime_bench.py.

Same broker, partitions, settings and producer linger as the engine; it does nothing else.
Env: BROKER, SOURCE, SINK, WEB_PORT, PARTITIONS, APP_ID.
"""

from __future__ import annotations

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


@app.agent(source)
async def passthrough(stream: Any) -> None:
    async for event in stream.events():
        seen["n"] += 1
        await sink.send(key=event.key, value=event.value)


@app.page("/count")
async def count(self: Any, request: Any) -> Any:
    return self.json(seen)


@app.page("/readyz")
async def readyz(self: Any, request: Any) -> Any:
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return self.json({}, status=200 if recovery.completed.is_set() else 503)


if __name__ == "__main__":
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
