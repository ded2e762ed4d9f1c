"""Intake: batches taken straight from the agent channel's queue, with what faust's stream did per
event that delivery depends on (skip, track, stall stamps) and the queue's pressure callbacks."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from intervaltree import IntervalTree
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from engine.agents import faust_fixes
from engine.agents.intake import Intake


@dataclass(eq=False)
class FakeMessage:
    topic: str
    partition: int
    offset: int
    generation_id: int = 1
    tracked: bool = False
    acked: bool = False

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


@dataclass(eq=False)
class FakeEvent:
    message: FakeMessage
    acks: int = 0

    def ack(self) -> bool:
        self.acks += 1
        return True


@dataclass
class FakeConsumer:
    unacked: set[Any] = field(default_factory=set)


@dataclass
class FakeTopics:
    acking_topics: set[str]


@dataclass
class FakeMonitor:
    stream_inbound_time: dict[TP, float] = field(default_factory=dict)


class FakeFlow:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active


@dataclass
class FakeApp:
    flow_control: FakeFlow = field(default_factory=FakeFlow)
    consumer_generation_id: int = 1
    topics: FakeTopics = field(default_factory=lambda: FakeTopics({"events", "ticks"}))
    consumer: FakeConsumer = field(default_factory=FakeConsumer)
    monitor: FakeMonitor = field(default_factory=FakeMonitor)


class FakeChannel:
    def __init__(self, maxsize: int = 0) -> None:
        self.queue: ThrowableQueue[Any] = ThrowableQueue(maxsize=maxsize,
                                                         flow_control=FlowControlEvent())


def events(n: int, topic: str = "events", partition: int = 0, **kw: Any) -> list[FakeEvent]:
    return [FakeEvent(FakeMessage(topic, partition, i, **kw)) for i in range(n)]


def fill(channel: FakeChannel, evs: list[FakeEvent]) -> None:
    for e in evs:
        channel.queue.put_nowait(e)


def test_a_batch_is_what_the_queue_holds_up_to_max_in_order() -> None:
    async def go() -> None:
        app, channel = FakeApp(), FakeChannel()
        intake = Intake(app, channel)
        evs = events(7)
        fill(channel, evs)
        assert await intake.take(5, within=0.0) == evs[:5]
        assert channel.queue.qsize() == 2
        assert await intake.take(5, within=0.0) == evs[5:]

    asyncio.run(go())


def test_after_the_first_event_it_waits_within_for_more_then_returns_what_it_has() -> None:
    async def go() -> None:
        app, channel = FakeApp(), FakeChannel()
        intake = Intake(app, channel)
        evs = events(3)
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, channel.queue.put_nowait, evs[0])
        loop.call_later(0.03, channel.queue.put_nowait, evs[1])  # inside the window
        loop.call_later(0.5, channel.queue.put_nowait, evs[2])  # after it
        t0 = loop.time()
        assert await intake.take(10, within=0.1) == evs[:2]
        took = loop.time() - t0
        assert 0.1 <= took < 0.4
        assert await intake.take(10, within=0.0) == evs[2:]

    asyncio.run(go())


def test_events_taken_while_flow_control_is_off_are_left_out_unacked() -> None:
    async def go() -> None:
        app, channel = FakeApp(), FakeChannel()
        intake = Intake(app, channel)
        stale = events(3)
        fill(channel, stale)
        app.flow_control.active = False
        task = asyncio.ensure_future(intake.take(10, within=0.0))
        await asyncio.sleep(0.01)
        assert not task.done()  # all skipped: it waits for the next batch
        assert [e.acks for e in stale] == [0, 0, 0]  # skipped, not acked (skip)
        assert all(e.message.acked for e in stale)
        assert not app.consumer.unacked and not app.monitor.stream_inbound_time
        app.flow_control.active = True
        fresh = events(2)
        fill(channel, fresh)
        assert await task == fresh
        assert [e.acks for e in fresh] == [0, 0]

    asyncio.run(go())


def test_events_of_an_earlier_consumer_generation_are_left_out_unacked() -> None:
    async def go() -> None:
        app, channel = FakeApp(consumer_generation_id=2), FakeChannel()
        intake = Intake(app, channel)
        old, new = events(2, generation_id=1), events(2, generation_id=2)
        fill(channel, [old[0], new[0], old[1], new[1]])
        assert await intake.take(10, within=0.0) == new
        assert [e.acks for e in old] == [0, 0] and [e.acks for e in new] == [0, 0]
        assert all(e.message.acked for e in old) and not any(e.message.acked for e in new)

    asyncio.run(go())


def test_kept_events_of_acking_topics_are_tracked_as_unacked_until_acked() -> None:
    async def go() -> None:
        app = FakeApp(topics=FakeTopics({"events"}))
        channel = FakeChannel()
        intake = Intake(app, channel)
        acking, other = events(2, "events"), events(1, "ticks")
        fill(channel, acking + other)
        batch = await intake.take(10, within=0.0)
        assert batch == acking + other
        assert app.consumer.unacked == {e.message for e in acking}
        assert all(e.message.tracked for e in acking) and not other[0].message.tracked
        assert [e.acks for e in batch] == [0, 0, 0]  # acked only once delivered:
        intake.ack(batch)
        assert [e.acks for e in batch] == [1, 1, 1]

    asyncio.run(go())


def test_each_partition_in_a_batch_gets_its_stall_detector_stamp() -> None:
    async def go() -> None:
        app, channel = FakeApp(), FakeChannel()
        intake = Intake(app, channel)
        fill(channel, events(2, partition=0) + events(1, partition=3) + events(1, "ticks", 3))
        before = asyncio.get_running_loop().time()
        await intake.take(10, within=0.0)
        stamps = app.monitor.stream_inbound_time
        assert set(stamps) == {TP("events", 0), TP("events", 3), TP("ticks", 3)}
        assert all(v >= before - 1 for v in stamps.values())

    asyncio.run(go())


def test_draining_the_queue_runs_its_pressure_drop_callbacks() -> None:
    """The conductor pauses a partition's fetching when the queue is under pressure and resumes
    it from the pressure-drop callback the queue runs as it is emptied."""
    async def go() -> None:
        app, channel = FakeApp(), FakeChannel(maxsize=10)
        intake = Intake(app, channel)
        high: list[str] = []
        drop: list[str] = []
        for e in events(9):
            channel.queue.put_nowait_enhanced(e, on_pressure_high=lambda: high.append("p0"),
                                              on_pressure_drop=lambda: drop.append("p0"))
        assert high == ["p0"] and drop == []
        assert len(await intake.take(100, within=0.0)) == 9
        assert drop == ["p0"]

    asyncio.run(go())


def test_an_error_thrown_into_the_channel_reaches_the_taker() -> None:
    async def go() -> None:
        app, channel = FakeApp(), FakeChannel()
        intake = Intake(app, channel)
        await channel.queue.throw(RuntimeError("consumer crashed"))
        with pytest.raises(RuntimeError, match="consumer crashed"):
            await intake.take(10, within=0.0)

    asyncio.run(go())


# --- a skipped message never counts toward a commit ---------------------------------------------


class Bookkeeping(SimpleNamespace):
    """faust's own commit bookkeeping (``Consumer.ack``, ``Consumer._new_offset``, with
    engine.agents.faust_fixes installed) on a consumer whose partition has ``committed`` as its
    committed offset: the state an eager rebalance leaves (the revoked partition's acked offsets
    cleared, the committed offset read again on assignment)."""

    ack = FaustConsumer.ack
    _new_offset = FaustConsumer._new_offset

    def __init__(self, tp: TP, committed: int) -> None:
        faust_fixes.install()
        super().__init__(
            app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True)),
            _committed_offset=defaultdict(lambda: None, {tp: committed}),
            _acked=defaultdict(list), _acked_index=defaultdict(set), _gap=defaultdict(IntervalTree),
            _unacked_messages=set(), _n_acked=0, _waiting_for_ack=None)

    @property
    def unacked(self) -> set[Any]:
        return self._unacked_messages  # type: ignore[no-any-return]

    def commit(self, tp: TP) -> int:
        """What faust's commit does with the bookkeeping: the new offset, if any, becomes the
        committed one. The committed offset after it."""
        offset = self._new_offset(tp)
        if offset is not None:
            self._committed_offset[tp] = offset
        return self._committed_offset[tp]  # type: ignore[no-any-return]


@dataclass(eq=False)
class RealEvent:
    """A faust event's ack: ``Event.ack`` is ``self.message.ack(app.consumer)``."""

    message: ConsumerMessage
    consumer: Bookkeeping

    def ack(self) -> bool:
        return self.message.ack(self.consumer)  # type: ignore[arg-type]


def test_a_stale_message_taken_after_an_eager_rebalance_never_lets_a_commit_pass_its_reread_copy(
) -> None:
    """Generation 1 fetched offset 105 and it sat in the queue; an eager rebalance gave the
    partition back (generation 2, committed offset 100), and generation 2 reads 100 onwards
    again. faust's stream acks the stale copy of 105 when it skips it: once 100..104 are decided
    and acked, the acked offsets run 100..105 and faust commits 106 while generation 2's copy of
    105 is not decided yet (a crash then loses it). The intake skips it without acking it."""
    async def go() -> None:
        tp = TP("events", 0)
        consumer = Bookkeeping(tp, committed=100)
        app = FakeApp(consumer_generation_id=2, consumer=consumer)  # type: ignore[arg-type]
        channel = FakeChannel()
        intake = Intake(app, channel)

        def event(offset: int, generation: int) -> RealEvent:
            return RealEvent(ConsumerMessage("events", 0, offset, 0.0, 0, [], b"k", b"v", None,
                                             generation_id=generation), consumer)

        stale = event(105, generation=1)
        fresh = [event(o, generation=2) for o in range(100, 105)]
        fill(channel, [stale, *fresh])
        batch = await intake.take(10, within=0.0)
        assert batch == fresh
        intake.ack(batch)  # decided and delivered
        assert consumer.commit(tp) == 105  # faust's skip-and-ack would make this 106
        assert stale.message.acked and stale.message not in consumer.unacked
        assert not stale.ack()  # and nothing can ack it later
        assert consumer.commit(tp) == 105

        copy = event(105, generation=2)  # generation 2's own copy, read again and decided
        fill(channel, [copy])
        intake.ack(await intake.take(10, within=0.0))
        assert consumer.commit(tp) == 106

    asyncio.run(go())
