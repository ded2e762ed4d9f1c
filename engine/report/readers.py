"""Where the events come from: JSONL exports of ``issues.closed`` and ``issues.lifecycle``, or
the topics themselves.

Both give every ``issue.closed`` CloudEvent as it was written (duplicates included: ``assess``
dedupes), and the lifecycle events the three rates need (``issue.overdue``, ``issue.reopened``,
``issue.escalated``; ``rates.assess_rates`` dedupes) and the workflow moves need
(``issue.urged``, ``issue.supervised``, ``issue.review_due``; ``workflow.assess_moves``).
Other engine event types are passed over and counted, and so are the closures of the
lifecycle topic when the closed topic is read too; anything else is an error naming its
line, or its partition and offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.domain.events import OUTBOUND_TYPES, IssueClosed, Outbound
from engine.report.figures import as_event
from engine.report.period import ReportInputError
from engine.streams.jsonl import lines
from engine.streams.kafka import ReadError, read

LIFECYCLE_TYPES = ("issue.overdue", "issue.reopened", "issue.escalated",
                   # the workflow moves (engine/report/workflow.py)
                   "issue.urged", "issue.supervised", "issue.review_due")


@dataclass
class Closures:
    events: list[IssueClosed] = field(default_factory=list)
    lifecycle: list[Outbound] = field(default_factory=list)  # LIFECYCLE_TYPES
    other: int = 0  # well-formed engine events of another type, passed over

    def add(self, raw: bytes | str, where: str, closed: bool = True) -> None:
        """One record; ``closed=False``: its closures are passed over (read from elsewhere)."""
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ReportInputError(f"{where}: not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ReportInputError(f"{where}: not a CloudEvent (a JSON object)")
        kind = body.get("type")
        if isinstance(kind, str) and kind in LIFECYCLE_TYPES:
            try:
                self.lifecycle.append(OUTBOUND_TYPES[kind].model_validate_json(raw))
            except ValidationError as exc:
                first = exc.errors()[0]
                at = ".".join(str(p) for p in first["loc"]) or "event"
                raise ReportInputError(f"{where}: not an {kind} CloudEvent: {at}: "
                                       f"{first['msg']}") from None
            return
        if isinstance(kind, str) and kind in OUTBOUND_TYPES and (
                kind != "issue.closed" or not closed):
            self.other += 1
            return
        try:
            self.events.append(as_event(body))
        except ValueError as exc:
            raise ReportInputError(f"{where}: {exc}") from None


def read_jsonl(path: Path, into: Closures | None = None, closed: bool = True) -> Closures:
    """One CloudEvent per line; blank lines are skipped (``engine.streams.jsonl``). ``into``:
    add to what other files gave; ``closed=False``: a lifecycle export whose closures are read
    from the closed export instead."""
    out = into or Closures()
    try:
        for n, raw in lines(path):
            out.add(raw, f"{path}:{n}", closed)
    except OSError as exc:
        raise ReportInputError(f"{path}: {exc.strerror or exc}") from None
    return out


def read_records(values: Iterable[tuple[str, bytes | None]],
                 lifecycle_topic: str | None = None) -> Closures:
    """Records as (where, value); a tombstone (no value) is an error like any bad record.
    The closures of ``lifecycle_topic`` (a ``where`` starting with it) are passed over."""
    out = Closures()
    for where, value in values:
        if value is None:
            raise ReportInputError(f"{where}: a record without a value")
        closed = lifecycle_topic is None or not where.startswith(f"{lifecycle_topic}[")
        out.add(value, where, closed)
    return out


def read_broker(config: dict[str, Any], topic: str, idle_seconds: float = 3.0,
                connect_seconds: float = 10.0, lifecycle: str | None = None) -> Closures:
    """The whole closed topic from the beginning, and the lifecycle topic if named
    (``engine.streams.kafka``: no consumer group, the end is where nothing has come for
    ``idle_seconds`` once partitions are assigned)."""
    topics = [topic] if lifecycle is None else [topic, lifecycle]
    records = read(config, topics, idle_seconds=idle_seconds, connect_seconds=connect_seconds)
    try:
        return read_records(((r.where, r.value) for r in records), lifecycle)
    except ReadError as exc:
        raise ReportInputError(str(exc)) from None
