"""Where the closures come from: a JSONL export of ``issues.closed``, or the topic itself.

Both give every ``issue.closed`` CloudEvent as it was written (duplicates included: ``assess``
dedupes). Other engine event types (a whole ``issues.lifecycle`` export) are passed over and
counted; anything else is an error naming its line, or its partition and offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.domain.events import OUTBOUND_TYPES, IssueClosed
from engine.report.figures import as_event
from engine.report.period import ReportInputError
from engine.streams.jsonl import lines
from engine.streams.kafka import ReadError, read


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
    """One CloudEvent per line; blank lines are skipped (``engine.streams.jsonl``)."""
    out = Closures()
    try:
        for n, raw in lines(path):
            out.add(raw, f"{path}:{n}")
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
    """The whole topic from the beginning (``engine.streams.kafka``: no consumer group, the
    end is where nothing has come for ``idle_seconds`` once partitions are assigned)."""
    records = read(config, [topic], idle_seconds=idle_seconds, connect_seconds=connect_seconds)
    try:
        return read_records((r.where, r.value) for r in records)
    except ReadError as exc:
        raise ReportInputError(str(exc)) from None
