"""KafkaBatchSender: one record batch per topic-partition, in the order decided."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from engine.agents.records import Landed, Record
from engine.agents.sender import KafkaBatchSender, RecordTooLarge


class FakeBatch:
    def __init__(self, room: int) -> None:
        self.room, self.keys = room, []  # type: ignore[var-annotated]
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def append(self, *, key: bytes | None, value: bytes, timestamp: None) -> object | None:
        if len(value) > self.room:
            self.closed = True  # aiokafka's BatchBuilder closes itself when full
            return None
        self.room -= len(value)
        self.keys.append((key, value))
        return object()


class FakeCluster:
    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}


class FakeClient:
    cluster = FakeCluster()

    async def _wait_on_metadata(self, topic: str) -> None:
        return None


class FakeProducer:
    """aiokafka's producer as the sender uses it; ``refuse_at``: the n-th submission raises."""

    def __init__(self, room: int = 1000, refuse_at: int | None = None) -> None:
        self.client = FakeClient()
        self._partitioner = DefaultPartitioner()
        self.room, self.refuse_at = room, refuse_at
        self.submitted: list[tuple[str, int, list[tuple[bytes | None, bytes]]]] = []
        self.futures: list[asyncio.Future[Any]] = []

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.room)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        if self.refuse_at is not None and len(self.submitted) == self.refuse_at:
            raise RuntimeError("producer closed")
        base = sum(len(keys) for t, p, keys in self.submitted if (t, p) == (topic, partition))
        assert batch.closed, "an open batch lingers in aiokafka's accumulator (linger_ms)"
        self.submitted.append((topic, partition, batch.keys))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # aiokafka's batch future: RecordMetadata with the batch's base offset
        asyncio.get_running_loop().call_later(0.01, fut.set_result, SimpleNamespace(offset=base))
        self.futures.append(fut)
        return fut


def test_records_are_grouped_by_topic_partition_in_order_and_keyed_like_the_producer() -> None:
    producer = FakeProducer()
    records = [Record("cl", b"A", b"s1", 2), Record("out", b"A", b"e1"),
               Record("out", b"B", b"e2"), Record("cl", b"B", b"s2", 2),
               Record("out", b"A", b"e3"), Record("cl", b"\x00tick:1", b"t", 1)]
    landed = asyncio.run(_send(KafkaBatchSender(lambda: producer), records))
    assert len(landed) == len(producer.submitted)
    assert Landed("cl", 2, 1) in landed and Landed("cl", 1, 0) in landed  # last offsets
    by_tp = {(t, p): [v for _, v in keys] for t, p, keys in producer.submitted}
    assert by_tp[("cl", 2)] == [b"s1", b"s2"] and by_tp[("cl", 1)] == [b"t"]
    part = DefaultPartitioner()
    a, b = part(b"A", [0, 1, 2, 3], [0, 1, 2, 3]), part(b"B", [0, 1, 2, 3], [0, 1, 2, 3])
    if a == b:
        assert by_tp[("out", a)] == [b"e1", b"e2", b"e3"]
    else:
        assert by_tp[("out", a)] == [b"e1", b"e3"] and by_tp[("out", b)] == [b"e2"]


def test_a_full_batch_is_submitted_and_the_rest_go_in_the_next() -> None:
    producer = FakeProducer(room=5)
    records = [Record("cl", b"A", b"aaa", 0), Record("cl", b"B", b"bbb", 0)]
    landed = asyncio.run(_send(KafkaBatchSender(lambda: producer), records))
    assert [keys for _, _, keys in producer.submitted] == [[(b"A", b"aaa")], [(b"B", b"bbb")]]
    assert landed == [Landed("cl", 0, 0), Landed("cl", 0, 1)]


def test_a_record_larger_than_a_batch_is_refused_with_its_size() -> None:
    producer = FakeProducer(room=5)
    with pytest.raises(RecordTooLarge, match="8 bytes"):
        asyncio.run(_send(KafkaBatchSender(lambda: producer), [Record("cl", b"A", b"x" * 8, 0)]))


def test_a_refusal_waits_for_the_batches_already_submitted() -> None:
    producer = FakeProducer(refuse_at=1)
    records = [Record("cl", b"A", b"s", 0), Record("cl", b"B", b"s", 1)]
    with pytest.raises(RuntimeError, match="producer closed"):
        asyncio.run(_send(KafkaBatchSender(lambda: producer), records))
    assert producer.futures and all(f.done() for f in producer.futures)


async def _send(sender: KafkaBatchSender, records: list[Record]) -> list[Any]:
    return list(await asyncio.gather(*await sender.send(records)))


def test_a_closed_batch_is_taken_by_aiokafka_without_lingering() -> None:
    """Why the sender closes each batch: aiokafka holds an open batch for the producer's
    linger (10 ms for the engine) before its sender takes it, twice a batch (states, then
    events); a closed one is ready at once (``MessageBatch.remaining_linger``)."""
    from aiokafka.producer.message_accumulator import BatchBuilder, MessageBatch
    from aiokafka.structs import TopicPartition

    def batch(closed: bool) -> MessageBatch:
        builder = BatchBuilder(1 << 20, 0)  # no compression
        builder.append(key=b"k", value=b"v", timestamp=None)
        if closed:
            builder.close()
        return MessageBatch(TopicPartition("t", 0), builder, ttl=30.0, linger_time=60.0)

    async def main() -> None:  # a MessageBatch holds futures of the running loop
        assert batch(closed=False).remaining_linger() is not None  # would wait up to a minute
        assert batch(closed=True).remaining_linger() is None

    asyncio.run(main())
