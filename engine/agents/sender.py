"""Hand a batch's records to the Kafka producer as one record batch per topic-partition.

``KafkaBatchSender.send(records)`` groups the records by topic and partition (a record's own
partition for changelog records; the producer's partitioner on the key for the outputs, the same
murmur2 choice ``producer.send`` makes), appends each group to an aiokafka ``BatchBuilder``, closes
it and submits it with ``send_batch``. Closed, aiokafka's sender takes the batch at once; open, it
held each one for the producer's linger (10 ms), twice a batch (states, then events): a fifth of
a live batch's cycle in runtime_bench. It returns one delivery future per submitted batch, which
resolves when the broker acknowledged every record of it (``acks=all``), to a ``Landed``: the
topic, partition and offset of the batch's last record (a RocksDB store records it).

Rejected: ``producer.send`` per record (what the shell did first). Each call walks faust's and
aiokafka's wrappers, looks the topic's metadata up, builds a set of its partitions and returns a
future of its own; with ~4 records an inbound event that was a fifth of the worker's CPU.
Records of one partition keep their order inside a batch, and aiokafka queues a partition's
batches in submission order, so what the changelog and the outputs see is the order decided.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from engine.agents.records import Landed, Record

# a test-only hook awaited before a batch is submitted (engine/agents/faults.py)
BeforeSubmit = Callable[[str, Sequence[Record]], Awaitable[None]]


class RecordTooLarge(ValueError):
    pass


class KafkaBatchSender:
    def __init__(self, producer: Callable[[], Any], before_submit: BeforeSubmit | None = None
                 ) -> None:
        self._producer = producer  # the started aiokafka producer (faust starts it late)
        self._before_submit = before_submit
        self._partitions: dict[str, list[int]] = {}

    async def send(self, records: Sequence[Record]) -> list[Awaitable[Any]]:
        """Submit ``records``; one delivery future per batch. If the producer refuses one, the
        batches already submitted are waited for (delivered or failed) before it raises."""
        producer = self._producer()
        groups: dict[tuple[str, int], list[Record]] = {}
        keyed: dict[tuple[str, bytes | None], int] = {}
        for r in records:
            partition = r.partition
            if partition is None:
                found = keyed.get((r.topic, r.key))
                if found is None:
                    found = keyed[(r.topic, r.key)] = await self._partition_of(
                        producer, r.topic, r.key)
                partition = found
            groups.setdefault((r.topic, partition), []).append(r)
        futures: list[Awaitable[Any]] = []
        try:
            for (topic, partition), group in groups.items():
                if self._before_submit is not None:
                    await self._before_submit(topic, group)
                batch, count = producer.create_batch(), 0
                for r in group:
                    if batch.append(key=r.key, value=r.value, timestamp=None) is None:
                        futures.append(_landed(await producer.send_batch(
                            batch, topic, partition=partition), topic, partition, count))
                        batch, count = producer.create_batch(), 0
                        if batch.append(key=r.key, value=r.value, timestamp=None) is None:
                            raise RecordTooLarge(
                                f"a record of {len(r.value or b'')} bytes for {topic} does not "
                                "fit in the producer's batch (producer_max_batch_size)")
                    count += 1
                batch.close()  # closed: the sender takes it at once, no linger
                futures.append(_landed(await producer.send_batch(
                    batch, topic, partition=partition), topic, partition, count))
        except BaseException:
            await asyncio.gather(*futures, return_exceptions=True)
            raise
        return futures

    async def _partition_of(self, producer: Any, topic: str, key: bytes | None) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            await producer.client._wait_on_metadata(topic)
            partitions = sorted(producer.client.cluster.partitions_for_topic(topic) or ())
            if not partitions:
                raise RuntimeError(f"no partitions known for topic {topic}")
            self._partitions[topic] = partitions
        # aiokafka's DefaultPartitioner (murmur2 of the key over all partitions), as send() does
        available = partitions
        return int(producer._partitioner(key, partitions, available))


def _landed(delivered: Awaitable[Any], topic: str, partition: int, count: int
            ) -> asyncio.Future[Landed]:
    async def wait() -> Landed:
        metadata = await delivered  # aiokafka's RecordMetadata: the batch's base offset
        return Landed(topic, partition, metadata.offset + count - 1)

    return asyncio.ensure_future(wait())
