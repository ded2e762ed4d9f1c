"""The composition root: builds the Faust app, its topics, table, agent, timer and web views.

One agent reads ``issues.events`` and the internal tick topic together (co-partitioned, same
partition count), so an issue's facts and its deadlines are handled in one ordered stream with
one writer per issue key, and table writes happen inside the stream that owns the partition.
Everything the agent does with a message is in ``IssueProcessor``; this module is wiring.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import faust
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine.agents import faust_fixes, sensors
from engine.agents.clock import Clock, SystemClock
from engine.agents.delivery import Delivery, stop_worker
from engine.agents.index import DeadlineIndex
from engine.agents.intake import Intake
from engine.agents.local import LocalStore, MemoryStore, RocksStore
from engine.agents.metrics import Metrics
from engine.agents.processor import IssueProcessor, Message, Record
from engine.agents.reload import RulesHolder
from engine.agents.retention import RetentionIndex
from engine.agents.sender import BeforeSubmit, KafkaBatchSender
from engine.agents.settings import Settings
from engine.agents.store import IssueStore
from engine.agents.topics import Topics
from engine.domain.ruleset import Ruleset
from engine.web.routes import install as install_web

log = structlog.get_logger("whistle.app")

# faust's RocksDB defaults give every partition's DB a 2 GiB block cache and 3 x 64 MiB
# memtables; the worker keeps its own cache of decoded states (WHISTLE_STATE_CACHE), so each
# partition gets a small block cache and memtables instead (README, "Sizing").
ROCKSDB_OPTIONS: dict[str, Any] = {
    "driver": "rocksdict",
    "block_cache_size": 64 * 2**20,
    "write_buffer_size": 16 * 2**20,
    "max_write_buffer_number": 2,
}
RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
                       "value_serializer": "raw"}


@dataclass
class Engine:
    app: faust.App
    processor: IssueProcessor
    metrics: Metrics
    topics: Topics
    changelog: str
    extra: dict[str, Any] = field(default_factory=dict)

    def all_topics(self) -> list[str]:
        t = self.topics
        return [t.events, t.lifecycle, t.closed, t.rejected, t.ticks, self.changelog, t.points]


def faust_broker_settings(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {"broker": [f"kafka://{b}" for b in settings.bootstrap]}
    if "SASL" in settings.security_protocol:
        conf["broker_credentials"] = faust.SASLCredentials(
            username=settings.sasl_username or "", password=settings.sasl_password or "",
            mechanism=settings.sasl_mechanism, ssl_context=settings.ssl_context(),
        )
    elif "SSL" in settings.security_protocol:
        ctx = settings.ssl_context()
        assert ctx is not None
        conf["broker_credentials"] = ctx
    return conf


def build_engine(
    settings: Settings,
    ruleset: Ruleset,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    crash_after_write: Callable[[str], bool] | None = None,
    send_delay: BeforeSubmit | None = None,
) -> Engine:
    faust_fixes.install()
    clock = clock or SystemClock()
    metrics = metrics or Metrics()
    holder = RulesHolder(settings.rules, ruleset, metrics)
    topics = settings.topics
    app = faust.App(
        settings.app_id,
        **faust_broker_settings(settings),
        store="rocksdb://" if settings.table_store == "rocksdb" else "memory://",
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=max(30.0, settings.session_timeout * 3),
        broker_rebalance_timeout=max(10.0, settings.session_timeout),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,  # every topic is created up front, with one partition count
        topic_disable_leader=True,
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        datadir=str(settings.data_dir / settings.app_id),
        producer_linger=0.01,
        # aiokafka fails a record not delivered within this (faust's default is 20 minutes):
        # a broker outage then shows as whistle_delivery_failures_total and, after the
        # retries, stops the worker instead of holding its partitions with nothing moving.
        producer_request_timeout=max(10.0, settings.session_timeout),
        # An issue state is a few KB: faust's 16 KB default holds three, and a full batch makes
        # the producer's send wait for the broker (see tests/integration/test_durability.py).
        producer_max_batch_size=1024 * 1024,
        stream_buffer_maxsize=max(4096, settings.batch_max * 4),
        # Standby replicas of the memory store are wiped by faust's on_recovery_completed and
        # then promoted from their stale offset, losing state; without standbys a newly
        # assigned partition is recovered from its whole changelog (with RocksDB: from the
        # offset its local DB holds).
        table_standby_replicas=0,
        autodiscover=False,
    )
    source = app.topic(topics.events, topics.ticks, **RAW)
    ticks = app.topic(topics.ticks, **RAW)
    rocks = settings.table_store == "rocksdb"
    table = app.Table("issues", partitions=settings.partitions, key_type=bytes, value_type=bytes,
                      options=dict(ROCKSDB_OPTIONS) if rocks else None)  # faust pops keys
    changelog = table.changelog_topic.get_topic_name()
    assert changelog == settings.changelog, (changelog, settings.changelog)

    # The local store is read and written directly: the changelog records are the shell's own
    # (``IssueProcessor.finish``), sent and awaited below, not faust's buffered table writes.
    # Memory: the store's dict (recovery writes into the same one) and its key -> partition
    # record (faust drops the keys of revoked partitions by it after a rebalance). RocksDB:
    # faust's per-partition DBs, written once a batch is delivered (engine.agents.local).
    faust_store: Any = table.data
    local: LocalStore = (RocksStore(faust_store) if rocks
                         else MemoryStore(faust_store.data, faust_store._key_partition))
    store = IssueStore(local, cache_size=settings.state_cache)
    processor = IssueProcessor(rules=holder.current, store=store, metrics=metrics, clock=clock,
                               index=DeadlineIndex(), topics=topics, changelog=changelog,
                               retention=RetentionIndex(settings.retain_closed,
                                                        settings.remember_retired),
                               follow_rule_changes=settings.pinning == "follow")

    producer: Any = app.producer
    sender = KafkaBatchSender(producer._ensure_producer, before_submit=send_delay)
    delivery = Delivery(sender.send, metrics, attempts=settings.delivery_attempts)

    @app.agent(source)
    async def issues(stream: Any) -> None:
        # Batches are taken from the agent's channel queue (engine.agents.intake), not through
        # the stream's iterator. Nothing is acked until a batch's records are all delivered;
        # faust commits acked offsets only. One batch is delivered while the next is decided
        # (the CPU work overlaps the broker's round trip), but a batch's records are sent only
        # once the batch before is delivered, so the changelog keeps every issue's writes in
        # order.
        pending: asyncio.Future[None] | None = None

        async def deliver_then_ack(records: list[Record], events: list[Any]) -> None:
            landed = await delivery.deliver(records)
            offsets: dict[int, int] = {}
            for batch in landed:
                if batch.topic == changelog:
                    offsets[batch.partition] = max(batch.last_offset,
                                                   offsets.get(batch.partition, -1))
            local.delivered([r for r in records if r.partition is not None], offsets)
            intake.ack(events)

        def owned(records: list[Record]) -> bool:
            mine = {tp.partition for tp in app.assignor.assigned_actives()
                    if tp.topic == topics.events}
            return all(r.partition in mine for r in records if r.partition is not None)

        async def one_batch(batch: list[Any], pending: asyncio.Future[None] | None
                            ) -> asyncio.Future[None]:
            t0 = time.monotonic()
            for event in batch:
                m = event.message
                if m.topic == topics.ticks:
                    processor.on_tick(m.partition, m.offset, tick_time(event.value, clock))
                else:
                    processor.on_event(
                        Message(topic=m.topic, partition=m.partition, offset=m.offset,
                                key=event.key, value=event.value, headers=headers_of(m),
                                timestamp=None),
                        clock.now(),
                    )
            records = processor.finish()
            metrics.batch_size.observe(len(batch))
            metrics.batch_processing.observe(time.monotonic() - t0)
            if pending is not None:
                await pending
            if not owned(records):  # dropped from the group while the batch before hung
                stop_worker("partitions of a pending batch were reassigned; its records are "
                            "not sent (the new owner decides its messages again)")
            if crash_after_write is not None:
                await crash_if_asked(records)
            return asyncio.ensure_future(deliver_then_ack(records, batch))

        intake = Intake(app, aiter(stream.channel))  # subscribes the topics, as a stream would
        while True:
            batch = await intake.take(settings.batch_max, settings.batch_within)
            try:
                pending = await one_batch(batch, pending)
            except Exception as e:  # a staged, unsent batch must not be skipped
                log.exception("batch failed")
                stop_worker(f"a batch failed before its records were delivered ({e!r}); its "
                            "offsets are not committed")

    async def crash_if_asked(records: list[Record]) -> None:
        assert crash_after_write is not None
        states = [r for r in records if r.topic == changelog]
        if any(crash_after_write((r.key or b"").decode()) for r in states):
            await delivery.deliver(states)  # the state is on the broker; the events are not
            log.warning("crash injected after the state write, before the sends")
            os._exit(70)

    @app.timer(settings.tick_seconds)
    async def tick() -> None:
        owned = sorted(tp.partition for tp in app.assignor.assigned_actives()
                       if tp.topic == topics.ticks)
        value = clock.now().isoformat().encode()
        for p in owned:
            await ticks.send(key=b"tick", value=value, partition=p)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust.Signal's stub is narrower than its call
    async def assigned(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        tps = args[0] if args else kwargs.get("assigned", ())
        processor.on_assigned({tp.partition for tp in tps if tp.topic == topics.events})

    sensors.install(app, metrics.registry)

    @app.page("/metrics")
    async def prometheus(self: Any, request: Any) -> Any:
        return self.bytes(generate_latest(metrics.registry),
                          headers={"Content-Type": CONTENT_TYPE_LATEST})

    def ready() -> bool:
        tables: Any = app.tables
        recovery = tables.recovery
        return bool(recovery.completed.is_set() and not recovery.in_recovery
                    and not app.rebalancing)

    @app.timer(settings.rules_watch_seconds)
    async def watch_rules() -> None:
        holder.poll()

    @app.task
    async def on_sighup() -> None:
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, lambda: holder.reload("SIGHUP"))

    @app.page("/-/reload")
    class Reload(faust.web.View):
        async def post(self, request: Any) -> Any:
            result = holder.reload("POST /-/reload")
            body = {"ok": result.ok, "version": result.version, "changed": result.changed,
                    "errors": list(result.errors)}
            return self.json(body, status=200 if result.ok else 400)

    @app.page("/healthz")
    async def healthz(self: Any, request: Any) -> Any:
        return self.json({"ok": True})

    @app.page("/readyz")
    async def readyz(self: Any, request: Any) -> Any:
        ok = ready()
        return self.json({"ready": ok}, status=200 if ok else 503)

    @app.page("/debug/progress")
    async def progress(self: Any, request: Any) -> Any:
        """Inbound messages this worker has handled since it started: a cheap poll for tests
        and benchmarks (``/metrics`` renders every series, ~10 ms with the Xishan registry)."""
        return self.json({"consumed": processor.consumed})

    @app.page("/debug/state")
    async def state_digest(self: Any, request: Any) -> Any:
        """How many issue states this worker holds and a digest of them (tests, operators)."""
        owned = sorted(tp.partition for tp in app.assignor.assigned_actives()
                       if tp.topic == topics.events)
        items = sorted((k, v) for k, v in local.items() if not k.startswith(b"\x00"))
        digest = hashlib.sha256(b"".join(k + b"\x00" + v for k, v in items)).hexdigest()
        return self.json({"ready": ready(), "partitions": owned, "issues": len(items),
                          "digest": digest})

    # who holds what: /api/issues and the operator page at / (engine.web)
    web = install_web(app, store=store, ready=ready, now=clock.now, rules=holder.current,
                      owned=lambda: {tp.partition for tp in app.assignor.assigned_actives()
                                     if tp.topic == topics.events},
                      topics=topics, partitions=settings.partitions, changelog=changelog,
                      kafka_config=settings.kafka_python_config())

    return Engine(app=app, processor=processor, metrics=metrics, topics=topics,
                  changelog=changelog, extra={"ready": ready, "table": table, "rules": holder,
                                              "web": web})


def tick_time(value: bytes | None, clock: Clock) -> datetime:
    try:
        return datetime.fromisoformat((value or b"").decode())
    except ValueError:
        return clock.now()


def headers_of(message: Any) -> list[tuple[str, bytes | None]]:
    headers = getattr(message, "headers", None) or []
    if isinstance(headers, dict):
        return [(str(k), v) for k, v in headers.items()]
    return [(str(k), v) for k, v in headers]
