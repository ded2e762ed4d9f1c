"""Adapter for the embedded Tansu broker's quirks; installed only when the broker is embedded.

Tansu 0.6.0 answers ListOffsets(latest) with the base offset of the partition's last record
batch + 1, not the log end: after one 30-record batch it says 1. Faust takes that as the
high-water mark of table recovery, stops early and silently loses table state. Fetch responses
carry the right high watermark, so this adapter re-reads each end offset with one Fetch per
leader. It patches the one place Faust reads end offsets for recovery
(``AIOKafkaConsumerThread._highwaters``; faust-streaming 0.15, aiokafka 0.14). It also shortens
the time a fetch may be held (see ``FETCH_MAX_WAIT_MS``).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

log = structlog.get_logger("whistle.tansu")

_installed = False
# faust asks for fetches held up to 1.5 s; Tansu holds a fetch that long even when records
# arrive for another partition in it, so a tick could wait 1.5 s: deadlines fired late.
FETCH_MAX_WAIT_MS = 100


async def fetch_highwaters(consumer: Any, tps: Iterable[Any]) -> Mapping[Any, int]:
    """The high watermark of each partition, read from a Fetch response."""
    from aiokafka.errors import NoError, for_code
    from aiokafka.protocol.fetch import FetchRequest
    from aiokafka.structs import TopicPartition

    tps = list(tps)
    if not tps:
        return {}
    client = consumer._client
    listed = await consumer.end_offsets(tps)  # never past the real end: a valid fetch offset
    by_node: dict[Any, dict[str, list[tuple[int, int, int]]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    for tp in tps:
        node = client.cluster.leader_for_partition(tp)
        if node is None or node == -1:
            await client.force_metadata_update()
            node = client.cluster.leader_for_partition(tp)
        by_node[node][tp.topic].append((tp.partition, listed[tp], 1))
    result: dict[Any, int] = {}
    for node, topics in by_node.items():
        # Tansu answers max_wait_time=0 with no topics at all; a short wait works. At the end
        # of the log the broker holds the request for max_wait, hence the short first try.
        for max_wait_ms in (10, 250, 500, 1000, 1000, 2000, 2000, 5000):
            request = FetchRequest(max_wait_ms, 0, 1, 0, list(topics.items()))
            response = await client.send(node, request)
            for topic, partitions in response.topics:
                for partition, error_code, highwater, *_ in partitions:
                    if for_code(error_code) is NoError:
                        tp = TopicPartition(topic, partition)
                        result[tp] = max(highwater, listed[tp])
            if all(TopicPartition(t, p[0]) in result for t, ps in topics.items() for p in ps):
                break
    missing = [tp for tp in tps if tp not in result]
    if missing:  # ListOffsets' answer is wrong on Tansu: recovering up to it would lose state
        raise RuntimeError(f"no high watermark from the broker for {missing}")
    log.info("recovery high watermarks", listed={str(tp): listed[tp] for tp in tps},
             fetched={str(tp): result[tp] for tp in tps})
    return result


def install() -> None:
    """Patch Faust's recovery high-water lookup. Idempotent."""
    global _installed
    if _installed:
        return
    from faust.transport.drivers import aiokafka as driver

    original = driver.AIOKafkaConsumerThread._highwaters

    async def _highwaters(self: Any, partitions: Any) -> Any:
        consumer = self._ensure_consumer()
        if self.consumer.in_transaction:  # faust's Consumer; no exactly-once on Tansu anyway
            return await original(self, partitions)
        return await fetch_highwaters(consumer, partitions)

    driver.AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]  # the point

    create = driver.AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]  # the point
    _installed = True


def uninstall_for_tests() -> None:
    """Only for the test that proves the adapter is needed."""
    global _installed
    if not _installed:
        return
    import importlib

    from faust.transport.drivers import aiokafka as driver

    importlib.reload(driver)
    _installed = False
