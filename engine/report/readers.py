"""Where the closures come from: a JSONL export of ``issues.closed``, or the topic itself.

Both give every ``issue.closed`` CloudEvent as it was written (duplicates included: ``assess``
dedupes). Other engine event types (a whole ``issues.lifecycle`` export) are passed over and
counted; anything else is an error naming its line, or its partition and offset.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.domain.events import OUTBOUND_TYPES, IssueClosed
from engine.report.figures import as_event
from engine.report.period import ReportInputError


@dataclass
class Closures:
    events: list[IssueClosed] = field(default_factory=list)
    other: int = 0  # well-formed engine events of another type, passed over

    def add(self, raw: bytes | str, where: str) -> None:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ReportInputError(f"{where}: not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ReportInputError(f"{where}: not a CloudEvent (a JSON object)")
        kind = body.get("type")
        if kind != "issue.closed" and isinstance(kind, str) and kind in OUTBOUND_TYPES:
            self.other += 1
            return
        try:
            self.events.append(as_event(body))
        except ValueError as exc:
            raise ReportInputError(f"{where}: {exc}") from None


def read_jsonl(path: Path) -> Closures:
    """One CloudEvent per line; blank lines are skipped."""
    out = Closures()
    try:
        with path.open("rb") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    out.add(line, f"{path}:{n}")
    except OSError as exc:
        raise ReportInputError(f"{path}: {exc.strerror or exc}") from None
    return out


def read_records(values: Iterable[tuple[str, bytes | None]]) -> Closures:
    """Records as (where, value); a tombstone (no value) is an error like any bad record."""
    out = Closures()
    for where, value in values:
        if value is None:
            raise ReportInputError(f"{where}: a record without a value")
        out.add(value, where)
    return out


def read_broker(config: dict[str, Any], topic: str, idle_seconds: float = 3.0,
                connect_seconds: float = 10.0) -> Closures:
    """The whole topic from the beginning, with no consumer group (nothing is committed).

    The end is where nothing has come for ``idle_seconds`` once partitions are assigned: end
    offsets are not asked for (Tansu, the embedded broker, reports wrong ones).
    """
    return read_records(_consume(config, topic, idle_seconds, connect_seconds))


def _consume(config: dict[str, Any], topic: str, idle_seconds: float,
             connect_seconds: float) -> Iterable[tuple[str, bytes | None]]:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(**config, auto_offset_reset="earliest",
                                 enable_auto_commit=False, group_id=None,
                                 bootstrap_timeout_ms=int(connect_seconds * 1000))
    except KafkaError as exc:
        servers = ",".join(config.get("bootstrap_servers") or [])
        raise ReportInputError(f"broker {servers}: {exc}") from None
    try:
        began = time.monotonic()
        partitions = consumer.partitions_for_topic(topic)
        while not partitions:
            if time.monotonic() - began > connect_seconds:
                raise ReportInputError(f"topic {topic} not found on the broker")
            time.sleep(0.2)
            partitions = consumer.partitions_for_topic(topic)
        consumer.subscribe([topic])
        last: float | None = None
        while True:
            batch = consumer.poll(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    yield f"{r.topic}[{r.partition}]@{r.offset}", r.value
            if batch or (last is None and consumer.assignment()):
                last = now  # the idle clock starts once partitions are assigned
            if last is None and now - began > connect_seconds:
                raise ReportInputError(f"no partitions of {topic} assigned in {connect_seconds}s")
            if last is not None and now - last >= idle_seconds:
                return
    finally:
        consumer.close()
