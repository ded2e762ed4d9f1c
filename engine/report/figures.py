"""Exact assessment figures from ``issue.closed`` events: pure, no I/O.

Every figure is a count of closures, or a ratio of two counts kept as an exact fraction; nothing
is estimated or sampled. ``assess`` takes the CloudEvents of the ``issues.closed`` topic, which
is at-least-once: an event seen again (same ``id``) and a second closure of the same issue (same
``subject``) count once. An issue counts in the period when its ``closed_at`` is in
``[start, end)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, TypeVar

from pydantic import ValidationError

from engine.domain.events import ClosedData, IssueClosed, Outbound

TOTAL = "*"  # the id of the totals rows (all departments, the whole district)
LOCAL_LEVELS = frozenset({"grid", "village"})
T = TypeVar("T")


@dataclass(frozen=True)
class Rate:
    """``numerator / denominator`` exactly; no value when the denominator is 0."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    def percent(self) -> str:
        """One decimal, halves rounded up (exact: 7/8 -> ``87.5%``, 1/3 -> ``33.3%``); ``—``
        when there is nothing to divide by."""
        value = self.value
        if value is None:
            return "—"
        tenths = math.floor(value * 1000 + Fraction(1, 2))
        return f"{tenths // 10}.{tenths % 10}%"

    def __str__(self) -> str:
        return f"{self.percent()} ({self.numerator}/{self.denominator})"


@dataclass(frozen=True)
class DepartmentFigures:
    """Reports (报到) due from one department: each report record of a closed issue counts."""

    department: str
    assigned: int = 0
    on_time: int = 0
    late: int = 0
    missed: int = 0

    @property
    def report_rate(self) -> Rate:
        return Rate(self.on_time, self.assigned)


@dataclass(frozen=True)
class StreetFigures:
    """Closed issues raised in one street (or, with ``street == TOTAL``, the whole district)."""

    street: str
    closed: int = 0
    resolved: int = 0
    withdrawn: int = 0
    whistled: int = 0  # whistled at least once
    resolved_locally: int = 0  # resolved while held by a grid or a village
    resolved_on_time: int = 0  # resolved with no limit missed
    rated: int = 0
    satisfied: int = 0

    @property
    def whistle_rate(self) -> Rate:
        return Rate(self.whistled, self.closed)

    @property
    def local_resolution_rate(self) -> Rate:
        return Rate(self.resolved_locally, self.resolved)

    @property
    def on_time_rate(self) -> Rate:
        return Rate(self.resolved_on_time, self.resolved)

    @property
    def satisfaction_rate(self) -> Rate:
        return Rate(self.satisfied, self.rated)


@dataclass(frozen=True)
class Assessment:
    start: datetime
    end: datetime
    departments: tuple[DepartmentFigures, ...]
    streets: tuple[StreetFigures, ...]
    department_total: DepartmentFigures
    district: StreetFigures
    issues: int  # distinct issues closed in the period
    duplicates: int  # events skipped: the same event id or the same issue seen again
    outside: int  # distinct issues closed outside the period


Closure = IssueClosed | Mapping[str, Any]


def as_event(item: Closure) -> IssueClosed:
    """An ``issue.closed`` CloudEvent from a model or a JSON-decoded dict (ValueError if not)."""
    if isinstance(item, IssueClosed):
        return item
    try:  # JSON mode: strict types (a bool is a bool), times from RFC 3339 text
        text = json.dumps(item, default=_iso)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an issue.closed CloudEvent: {exc}") from None
    try:
        return IssueClosed.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise ValueError(f"not an issue.closed CloudEvent: {where}: {first['msg']}") from None


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def dedupe_events(items: Iterable[Outbound], kinds: tuple[type[Outbound], ...]
                  ) -> tuple[list[Any], int]:
    """The events among ``items`` of one of ``kinds``, each (source, id) once (a redelivery
    carries the same id), and how many were seen again."""
    seen: set[tuple[str, str]] = set()
    out: list[Any] = []
    skipped = 0
    for e in items:
        if not isinstance(e, kinds):
            continue
        key = (e.source, e.id)
        if key in seen:
            skipped += 1
            continue
        seen.add(key)
        out.append(e)
    return out, skipped


def dedupe(items: Iterable[Closure]) -> tuple[list[IssueClosed], int]:
    """One closure per issue, and how many events were skipped.

    A repeated event id is a redelivery. Two closures of one issue under different ids should
    not happen (ids are deterministic); if they do, the later state version (``sequence``) wins.
    """
    seen_ids: set[tuple[str, str]] = set()
    by_issue: dict[str, IssueClosed] = {}
    skipped = 0
    for item in items:
        event = as_event(item)
        key = (event.source, event.id)
        if key in seen_ids:
            skipped += 1
            continue
        seen_ids.add(key)
        kept = by_issue.get(event.subject)
        if kept is not None:
            skipped += 1
            if event.data.sequence <= kept.data.sequence:
                continue
        by_issue[event.subject] = event
    return list(by_issue.values()), skipped


def assess(
    closures: Iterable[Closure],
    start: datetime,
    end: datetime,
    *,
    departments: Iterable[str] = (),
    streets: Iterable[str] = (),
) -> Assessment:
    """The figures of the issues closed in ``[start, end)``.

    ``departments`` and ``streets`` (e.g. every id in the org registry) get a row even with
    nothing to count, in the order given; ids met only in the events follow, sorted.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the period's start and end need a time zone")
    if end <= start:
        raise ValueError(f"empty period: {end.isoformat()} is not after {start.isoformat()}")
    unique, duplicates = dedupe(closures)
    in_period: list[ClosedData] = []
    for event in unique:
        closed_at = event.data.closed_at
        if closed_at.tzinfo is None:
            raise ValueError(f"{event.subject}: closed_at has no offset")
        if start <= closed_at < end:
            in_period.append(event.data)

    dept = {d: DepartmentFigures(d) for d in departments}
    street = {s: StreetFigures(s) for s in streets}
    for data in in_period:
        s = street.get(data.street) or StreetFigures(data.street)
        street[data.street] = _add_closure(s, data)
        for record in data.reports:
            d = dept.get(record.department) or DepartmentFigures(record.department)
            dept[record.department] = _add_report(d, record.outcome)

    dept_rows = _ordered(dept, departments)
    street_rows = _ordered(street, streets)
    return Assessment(
        start=start, end=end, departments=dept_rows, streets=street_rows,
        department_total=_sum_departments(dept_rows), district=_sum_streets(street_rows),
        issues=len(in_period), duplicates=duplicates, outside=len(unique) - len(in_period),
    )


def _add_closure(s: StreetFigures, data: ClosedData) -> StreetFigures:
    resolved = data.outcome == "resolved"
    return StreetFigures(
        street=s.street,
        closed=s.closed + 1,
        resolved=s.resolved + resolved,
        withdrawn=s.withdrawn + (not resolved),
        whistled=s.whistled + (data.whistles > 0),
        resolved_locally=s.resolved_locally + (resolved and data.closed_level in LOCAL_LEVELS),
        resolved_on_time=s.resolved_on_time + (resolved and data.on_time),
        rated=s.rated + (data.satisfied is not None),
        satisfied=s.satisfied + (data.satisfied is True),
    )


def _add_report(d: DepartmentFigures, outcome: str | None) -> DepartmentFigures:
    # The engine settles every report at closure; one still open is missed, as the engine says.
    return DepartmentFigures(
        department=d.department,
        assigned=d.assigned + 1,
        on_time=d.on_time + (outcome == "on_time"),
        late=d.late + (outcome == "late"),
        missed=d.missed + (outcome not in ("on_time", "late")),
    )


def _ordered(rows: dict[str, T], first: Iterable[str]) -> tuple[T, ...]:
    given = list(dict.fromkeys(first))
    rest = sorted(k for k in rows if k not in set(given))
    return tuple(rows[k] for k in [*given, *rest])


def _sum_departments(rows: Iterable[DepartmentFigures]) -> DepartmentFigures:
    total = DepartmentFigures(TOTAL)
    for r in rows:
        total = DepartmentFigures(
            TOTAL, total.assigned + r.assigned, total.on_time + r.on_time, total.late + r.late,
            total.missed + r.missed,
        )
    return total


_STREET_COUNTS = ("closed", "resolved", "withdrawn", "whistled", "resolved_locally",
                  "resolved_on_time", "rated", "satisfied")


def _sum_streets(rows: Iterable[StreetFigures]) -> StreetFigures:
    rows = list(rows)
    return StreetFigures(TOTAL, **{f: sum(getattr(r, f) for r in rows) for f in _STREET_COUNTS})


def combine(
    parts: Iterable[Assessment],
    *,
    departments: Iterable[str] = (),
    streets: Iterable[str] = (),
) -> Assessment:
    """One assessment from assessments of disjoint sets of issues over the same period.

    ``combine([assess(A, ...), assess(B, ...)])`` equals ``assess(A + B, ...)`` when no issue has
    closures in both A and B (a parallel replay partitions issues, so none does): every figure
    is a count, and rows come in the order ``assess`` gives them. ``departments`` and
    ``streets`` must be the ones the parts were assessed with.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("nothing to combine")
    start, end = parts[0].start, parts[0].end
    if any(p.start != start or p.end != end for p in parts):
        raise ValueError("the parts cover different periods")
    dept: dict[str, DepartmentFigures] = {}
    street: dict[str, StreetFigures] = {}
    for p in parts:
        for d in p.departments:
            kept = dept.get(d.department)
            dept[d.department] = d if kept is None else DepartmentFigures(
                d.department, kept.assigned + d.assigned, kept.on_time + d.on_time,
                kept.late + d.late, kept.missed + d.missed)
        for s in p.streets:
            had = street.get(s.street)
            street[s.street] = s if had is None else StreetFigures(s.street, **{
                f: getattr(had, f) + getattr(s, f) for f in _STREET_COUNTS})
    dept_rows = _ordered(dept, departments)
    street_rows = _ordered(street, streets)
    return Assessment(
        start=start, end=end, departments=dept_rows, streets=street_rows,
        department_total=_sum_departments(dept_rows), district=_sum_streets(street_rows),
        issues=sum(p.issues for p in parts), duplicates=sum(p.duplicates for p in parts),
        outside=sum(p.outside for p in parts),
    )
