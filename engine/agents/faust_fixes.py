"""Fixes to faust-streaming 0.15 (aiokafka 0.14) that at-least-once delivery depends on.

1. The commit bookkeeping. ``Consumer._committed_offset[tp]`` is the *next* offset to read
(what Kafka stores as committed, and ``batch[-1] + 1`` after each of faust's own commits).
``Consumer._new_offset`` looks for a gap at the head of the acked offsets with
``min(acked) - committed > 1``: off by one, so when the message *at* the committed offset is not
acked yet but the ones after it are, faust commits past it; and it skips the test altogether when
the committed offset is 0. A message skipped that way is never read again: when it is an
``issue.raised``, the issue's later facts are rejected as ``unknown_issue``. Messages are acked
out of order when faust drops stale-generation messages around a rebalance while later ones are
acked (found by review, not yet caught in the act). Here the head test is done right before
faust's own logic runs: no commit while the message at the committed offset is unacked.

Messages taken from the consumer and then dropped, never read again. aiokafka's position moves
when faust takes records (``getmany``); faust drops some of them afterwards, relying on the seek
to the committed offsets at the end of each recovery to read them again, and that seek moves only
partitions with a committed offset above 0 (aiokafka's ``seek_to_committed``). Caught in the act
(``test_sigkill_mid_stream_then_a_new_worker_reaches_the_same_closures`` under CPU load): the
worker that took over from a SIGKILLed one recovered, then never read the events its predecessor
had not committed, silently. Three fixes:

2. ``getmany`` hands the consumer thread a copy of the active partitions, not faust's live set.
When recovery ends it pauses the changelog partitions before resuming the stream ones: the set is
empty for a moment, and a fetch running on the consumer thread then, which aiokafka's
``fetched_records`` reads as *every* partition (``if partitions and tp not in partitions``), took
the records of all the stream partitions; back on faust's side none was active, all dropped.

3. The seek at the end of recovery (``seek_to_committed``) also puts back the stream partitions
with no committed offset (at the beginning: ``consumer_auto_offset_reset`` is ``earliest``) or a
committed offset of 0, so what faust took and dropped before it, around a rebalance, is read
again on those as well.

4. ``Recovery.on_recovery_completed`` resumes the stream partitions after the seek and the
clearing of the stream queues (``flow_control.resume()`` clears them), not before the seek:
records handed to the streams while the seek was under way were cleared with the position past
them. (faust's ``_resume_streams`` has the same order but runs only for an app without tables.)

5. Not a fix of delivery but of its cost: the fetcher hands each message to the streams with
``Consumer.wait_first(callback(message), suspend_flow.wait())``, racing the callback against a
flow suspension and the consumer's stop and crash: four tasks and an ``asyncio.wait`` a message
(the profile's largest single cost outside the engine). The callback almost always completes
without suspending (a stream queue with room); here it is first run up to its first suspension,
and only when it does suspend is the race run, with the callback resumed where it stopped.

6. Not a fix of delivery but of its pace: when every partition's stream queue is under
pressure (the agent slower than the fetcher: a backlog, a burst of deadlines), faust takes them
all out of the fetch and its fetcher then sleeps a whole second (``_wait_next_records``:
``await self.sleep(1)``), however soon the queues drain. Measured in runtime_bench: the worker
idle ~0.8 s of a 3 s run, its queues empty. Here it waits for the first partition whose pressure
drops (``on_buffer_drop``), a second at most, as before.

All installed always (``app.build_engine``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from mode.services import WaitResults

_installed = False


def head_unacked(acked: list[int], committed: int | None) -> bool:
    """True when the message at the committed offset (the next to read) is not acked yet."""
    return bool(acked) and committed is not None and min(acked) > committed


def install() -> None:
    global _installed
    if _installed:
        return
    from faust.transport.consumer import Consumer

    original = Consumer._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        if not self._gap[tp] and head_unacked(self._acked[tp], self._committed_offset[tp]):
            return None
        result: int | None = original(self, tp)
        return result

    Consumer._new_offset = _new_offset  # type: ignore[method-assign]  # fix 1

    from faust.tables.recovery import Recovery
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    getmany = AIOKafkaConsumerThread.getmany

    async def getmany_snapshot(self: Any, active_partitions: Any, timeout: float) -> Any:
        snapshot = None if active_partitions is None else set(active_partitions)
        return await getmany(self, snapshot, timeout)

    AIOKafkaConsumerThread.getmany = getmany_snapshot  # type: ignore[method-assign]  # fix 2
    AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign]  # fix 3
    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]  # fix 4
    race = Consumer.wait_first

    async def wait_first(self: Any, *coros: Any, timeout: Any = None) -> Any:
        first = coros[0] if coros else None
        if timeout is not None or not asyncio.iscoroutine(first):
            return await race(self, *coros, timeout=timeout)
        try:
            yielded = first.send(None)
        except BaseException as ended:  # completed (or failed) without suspending: no race
            for other in coros[1:]:
                if asyncio.iscoroutine(other):
                    other.close()  # never started: nothing to wait for, nothing to warn of
            if isinstance(ended, StopIteration):
                return WaitResults([first], [ended.value], False)
            raise
        return await race(self, Resumed(first, yielded), *coros[1:])

    Consumer.wait_first = wait_first  # type: ignore[method-assign]  # fix 5
    buffer_drop = Consumer.on_buffer_drop

    def on_buffer_drop(self: Any, tp: Any) -> None:
        buffer_drop(self, tp)
        drained(self).set()

    Consumer.on_buffer_drop = on_buffer_drop  # type: ignore[method-assign]  # fix 6
    Consumer._wait_next_records = wait_next_records  # type: ignore[method-assign]  # fix 6
    _installed = True


def drained(consumer: Any) -> asyncio.Event:
    """Set when a buffered partition's stream queue drains (fix 6)."""
    event: asyncio.Event | None = consumer.__dict__.get("_whistle_drained")
    if event is None:
        event = consumer.__dict__["_whistle_drained"] = asyncio.Event()
    return event


async def wait_next_records(self: Any, timeout: float) -> Any:
    """faust 0.15.3's ``Consumer._wait_next_records``, with one change (fix 6): with no
    partition active, wait for a buffered one to drain (a second at most), not a whole second."""
    if not self.flow_active:
        await self.wait(self.can_resume_flow)
    try:
        self.not_waiting_next_records.set()
        is_client_only = self.app.client_only
        drop = drained(self)
        drop.clear()  # a drop from before this call is in the active set read next
        active_partitions = None if is_client_only else self._get_active_partitions()
        records: Any = {}
        if is_client_only or active_partitions:
            records = await self._getmany(active_partitions=active_partitions, timeout=timeout)
        else:
            await self.wait_for_stopped(drop, timeout=1.0)
        return records, active_partitions
    finally:
        self.not_waiting_next_records.set()


class Resumed:
    """An awaitable that goes on with a coroutine already run up to its first suspension:
    it hands what the coroutine yielded (a future, or None for a bare yield) to the task that
    awaits it, and passes back what the task sends or throws (a cancellation included)."""

    def __init__(self, coro: Any, yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self.coro, self.yielded
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as error:  # handed on to the coroutine
                try:
                    value = coro.throw(error)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as done:
                    return done.value


async def seek_to_committed(self: Any) -> Any:
    """aiokafka's ``seek_to_committed`` on the consumer thread, then the stream partitions it
    leaves where they are (no committed offset, or 0) put back at their start."""
    consumer = self._ensure_consumer()
    earliest = self.app.conf.consumer_auto_offset_reset == "earliest"
    is_changelog = self.consumer._is_changelog_tp

    async def seek() -> Any:
        committed = await consumer.seek_to_committed()
        streams = [tp for tp in committed if not is_changelog(tp)]
        for tp in streams:
            if committed[tp] == 0:
                consumer.seek(tp, 0)
        unset = [tp for tp in streams if committed[tp] is None]
        if unset and earliest:
            await consumer.seek_to_beginning(*unset)
        return committed

    return await self.call_thread(seek)


async def on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """faust 0.15.3's ``Recovery.on_recovery_completed``, with one change (fix 4): the stream
    partitions are resumed after the seek and the clearing of the stream queues."""
    app = self.app
    consumer = app.consumer
    self.log.info("Restore complete!")
    await app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callbacks = [
        asyncio.ensure_future(table.on_recovery_completed(self.actives_for_table[table],
                                                          self.standbys_for_table[table]))
        for table in self.tables.values()
    ]
    if callbacks:
        await asyncio.wait(callbacks)
    assignment = consumer.assignment()
    if app.consumer_generation_id != generation_id:
        self.log.warning(f"Recovery rebalancing again app id {app.consumer_generation_id} "
                         f"param {generation_id}")
        return
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
    self.completed.set()
    app.flow_control.resume()  # clears the stream queues: none of the paused partitions is in one
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")
