"""The one Kafka reader, on kafka-python, with no consumer group (nothing is committed).

Reading "to the end" means until nothing has come for ``idle_seconds`` once partitions are
assigned: end offsets are not asked for (Tansu, the embedded broker, reports wrong ones).
``idle_seconds=None`` follows the topics until ``stop`` is set (or the caller stops reading).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


class ReadError(Exception):
    """The broker cannot be reached, or a topic is not there."""


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


def read(config: dict[str, Any], topics: list[str], *, from_beginning: bool = True,
         idle_seconds: float | None = 3.0, connect_seconds: float = 10.0,
         stop: threading.Event | None = None,
         after_poll: Callable[[], None] | None = None) -> Iterator[Record]:
    """Records of ``topics`` as they come; ``after_poll`` is called after every poll."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(**config, auto_offset_reset="earliest" if from_beginning
                                 else "latest", enable_auto_commit=False, group_id=None,
                                 bootstrap_timeout_ms=int(connect_seconds * 1000))
    except KafkaError as exc:
        servers = ",".join(config.get("bootstrap_servers") or [])
        raise ReadError(f"broker {servers}: {exc}") from None
    try:
        began = time.monotonic()
        for topic in topics:
            while not consumer.partitions_for_topic(topic):
                if time.monotonic() - began > connect_seconds:
                    raise ReadError(f"topic {topic} not found on the broker")
                time.sleep(0.2)
        consumer.subscribe(topics)
        last: float | None = None
        while stop is None or not stop.is_set():
            batch = consumer.poll(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    yield Record(r.topic, r.partition, r.offset, r.key, r.value)
            if after_poll is not None:
                after_poll()
            if batch or (last is None and consumer.assignment()):
                last = now  # the idle clock starts once partitions are assigned
            if last is None and now - began > connect_seconds:
                raise ReadError(f"no partitions of {', '.join(topics)} assigned in "
                                f"{connect_seconds}s")
            if idle_seconds is not None and last is not None and now - last >= idle_seconds:
                return
    finally:
        consumer.close()


def documents(config: dict[str, Any], topic: str, idle_seconds: float = 3.0
              ) -> list[dict[str, Any]]:
    """Every JSON object on ``topic`` from the beginning, until it has been idle for
    ``idle_seconds`` (``engine.streams.jsonl.documents`` for a file); other records are passed
    over."""
    import json

    out = []
    for record in read(config, [topic], idle_seconds=idle_seconds):
        try:
            doc = json.loads(record.value or b"")
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out
