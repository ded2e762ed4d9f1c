"""Stream messages faust takes from the consumer around a recovery are never lost
(engine/agents/faust_fixes, fixes 2 to 4), driven through faust's own code with fakes around it.

aiokafka's position moves when faust takes records; faust drops some afterwards and relies on
the seek at the end of recovery to read them again, which moves only partitions with a committed
offset above 0. Caught under CPU load: a worker taking over from a SIGKILLed one recovered, then
never read the events its predecessor had not committed (tests/integration/test_runtime.py,
test_sigkill_mid_stream_then_a_new_worker_reaches_the_same_closures).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from engine.agents import faust_fixes

EVENTS = ("issues.events", 0)
CHANGELOG = ("issues-changelog", 0)


def scenario() -> tuple[list[str], list[str]]:
    """The messages the fetcher handed to the stream, and those the stream still has."""

    async def run() -> tuple[list[str], list[str]]:
        flow_control = FlowControlEvent()
        flow_control.resume()  # as during recovery: the changelogs are being read
        queue: ThrowableQueue[str] = ThrowableQueue(
            maxsize=100, flow_control=flow_control, clear_on_resume=True)  # a stream's queue
        active: set[tuple[str, int]] = set()  # faust pauses every partition during recovery
        handed: list[str] = []

        def fetch() -> None:  # the Fetcher: records of the active partitions go to the stream
            if EVENTS in active and not handed:
                handed.append("event@0")
                queue.put_nowait("event@0")

        async def perform_seek() -> None:  # the round trip to the consumer thread
            await asyncio.sleep(0)
            fetch()
            await asyncio.sleep(0)

        async def nothing(*args: Any, **kwargs: Any) -> None:
            return None

        async def wait(coro: Any, timeout: Any = None) -> None:
            await coro

        consumer = SimpleNamespace(
            assignment=lambda: {EVENTS, CHANGELOG},
            resume_partitions=lambda tps: active.update(tps),
            perform_seek=perform_seek,
            resume_flow=lambda: None,
        )
        app = SimpleNamespace(
            consumer=consumer, consumer_generation_id=1, flow_control=flow_control,
            on_rebalance_complete=SimpleNamespace(send=nothing),
            conf=SimpleNamespace(broker_request_timeout=30.0),
            _fetcher=SimpleNamespace(maybe_start=nothing),
            assignor=SimpleNamespace(assigned_standbys=set),
            on_rebalance_end=lambda: None,
        )
        log = SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None,
                              dev=lambda *a, **k: None)
        recovery: Any = SimpleNamespace(
            app=app, log=log, completed=asyncio.Event(), _wait=wait,
            tables=SimpleNamespace(values=list, on_actives_ready=lambda: None,
                                   on_standbys_ready=lambda: None),
            actives_for_table={}, standbys_for_table={},
            _set_recovery_ended=lambda: None,
            _is_changelog_tp=lambda tp: tp == CHANGELOG,
        )
        await Recovery.on_recovery_completed(recovery, generation_id=1)
        fetch()  # the Fetcher goes on once the worker is ready
        assert recovery.completed.is_set() and EVENTS in active
        return handed, list(queue._queue)  # type: ignore[attr-defined]  # asyncio.Queue's deque

    return asyncio.run(run())


def test_a_message_taken_while_recovery_seeks_reaches_the_stream() -> None:
    faust_fixes.install()
    handed, queued = scenario()
    assert handed == ["event@0"]
    assert queued == handed, "the stream queue was cleared after the message was handed to it"


def test_the_consumer_thread_fetches_for_the_partitions_active_when_faust_asked() -> None:
    """faust passed its live set of active partitions to the consumer thread. At the end of
    recovery the set is empty for a moment (changelogs paused, streams not yet resumed), and
    aiokafka's ``fetched_records`` reads an empty set as every partition: it took the records of
    all the stream partitions, which faust then dropped as not active."""
    faust_fixes.install()
    live = {EVENTS}
    fetched_for: list[Any] = []

    async def call_thread(fun: Any, consumer: Any, partitions: Any, **kwargs: Any) -> Any:
        live.clear()  # recovery pauses the changelogs while the thread is fetching
        fetched_for.append(set(partitions))
        return {}

    thread: Any = SimpleNamespace(
        _ensure_consumer=lambda: SimpleNamespace(_max_poll_records=500),
        call_thread=call_thread, _fetch_records=None)
    asyncio.run(AIOKafkaConsumerThread.getmany(thread, live, 1.0))
    assert fetched_for == [{EVENTS}]


def test_the_seek_after_recovery_puts_back_stream_partitions_without_a_committed_offset() -> None:
    """aiokafka's ``seek_to_committed`` leaves a partition with no committed offset (or 0) where
    the consumer took it to; what faust took and dropped before there would be skipped."""
    faust_fixes.install()
    never, zero, some = ("issues.events", 1), ("issues.events", 2), ("issues.events", 3)
    seeks: list[Any] = []

    async def seek_to_committed() -> dict[Any, int | None]:
        return {never: None, zero: 0, some: 7, CHANGELOG: None}

    async def seek_to_beginning(*tps: Any) -> bool:
        seeks.append(("beginning", set(tps)))
        return True

    consumer = SimpleNamespace(seek_to_committed=seek_to_committed,
                               seek=lambda tp, offset: seeks.append((tp, offset)),
                               seek_to_beginning=seek_to_beginning)

    async def call_thread(fun: Any, *args: Any, **kwargs: Any) -> Any:
        return await fun(*args, **kwargs)

    thread: Any = SimpleNamespace(
        _ensure_consumer=lambda: consumer, call_thread=call_thread,
        app=SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset="earliest")),
        consumer=SimpleNamespace(_is_changelog_tp=lambda tp: tp == CHANGELOG))
    committed = asyncio.run(AIOKafkaConsumerThread.seek_to_committed(thread))
    assert committed == {never: None, zero: 0, some: 7, CHANGELOG: None}
    assert seeks == [(zero, 0), ("beginning", {never})]  # the changelog is recovery's business
