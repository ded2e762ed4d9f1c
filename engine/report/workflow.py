"""The workflow moves per unit: returns (退单), extensions (延期), urging (催办) and supervision
(督办), parking (挂账). Pure, no I/O.

What is counted, and in which period (docs/contract.md, "Report", says the same):

- **Returns** and **extensions** come from each closure's ``returns`` and ``extensions`` (the
  engine's own record of them), and **parking** from its ``parked`` periods: they count in the
  period the issue closed, as every closure figure does (an issue counts once, duplicates are
  skipped). A return is attributed to the returning unit, an extension to the unit whose
  resolve limit it moved, a parked period to the unit that held the parked issue.
- **Urging** steps (``issue.urged``, and ``issue.supervised``, the ladder's last step) and
  **reviews** (``issue.review_due``) are lifecycle events: each counts in the period it was
  sent (its ``time``), whether or not its issue has closed since, for the unit urged or the
  parked unit. A closure says only how many urgings its issue had, not for whom, so these need
  the lifecycle topic (or its export); redeliveries count once.
- **Rows** as in the three rates: departments for themselves; grids, villages and streets for
  the street (镇/街道) the issue was raised in (the closure's ``street``; for an open issue the
  org registry's territory). A parked period does not say its level: a unit the registry names
  as a department is a department, any other counts for the issue's street.
- **Invalid-return rate** (退单不合理率) = returns rejected / returns requested (a return still
  pending when the issue moved on or closed is in the denominator). **Overdue even after
  extension** (延期后仍超期) = approved extensions whose moved limit passed all the same /
  approved extensions.
- **Supervision cases** (督办件): distinct (issue, unit) that reached the supervise step in the
  period. **Parked issues**: distinct issues with a parked period by the unit; parked time is
  wall time from ``since`` to ``until`` (a period still running at closure ends there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from engine.domain.events import (
    IssueClosed,
    IssueReviewDue,
    IssueSupervised,
    IssueUrged,
    Outbound,
)
from engine.report.figures import TOTAL, Rate, _ordered, dedupe_events

Section = Literal["department", "street"]
MoveEvent = IssueUrged | IssueSupervised | IssueReviewDue
MOVE_TYPES = ("issue.urged", "issue.supervised", "issue.review_due")


@dataclass(frozen=True)
class UnitMoves:
    """The workflow moves of one department or street (``unit == TOTAL``: a section's total)."""

    unit: str
    returns_requested: int = 0
    returns_accepted: int = 0
    returns_rejected: int = 0
    returns_pending: int = 0  # undecided when the issue moved on or closed
    extensions_requested: int = 0
    extensions_approved: int = 0
    extensions_rejected: int = 0
    extensions_pending: int = 0
    extensions_missed: int = 0  # approved, and overdue even after the extension
    urgings: tuple[int, ...] = ()  # steps sent, by step: urgings[0] is step 1
    supervision_cases: int = 0
    parked_issues: int = 0
    parked_periods: int = 0
    parked_seconds: float = 0.0  # wall time, all periods
    longest_parked_seconds: float = 0.0
    reviews_due: int = 0

    @property
    def invalid_return_rate(self) -> Rate:
        return Rate(self.returns_rejected, self.returns_requested)

    @property
    def overdue_after_extension_rate(self) -> Rate:
        return Rate(self.extensions_missed, self.extensions_approved)

    @property
    def urgings_sent(self) -> int:
        return sum(self.urgings)

    def urged(self, step: int) -> int:
        """Urgings sent at ``step`` (1-based)."""
        return self.urgings[step - 1] if step <= len(self.urgings) else 0

    def plus(self, other: UnitMoves, unit: str | None = None) -> UnitMoves:
        n = max(len(self.urgings), len(other.urgings))
        return UnitMoves(
            unit or self.unit,
            **{f: getattr(self, f) + getattr(other, f) for f in SUMMED},
            urgings=tuple(self.urged(i) + other.urged(i) for i in range(1, n + 1)),
            longest_parked_seconds=max(self.longest_parked_seconds,
                                       other.longest_parked_seconds),
        )


SUMMED = ("returns_requested", "returns_accepted", "returns_rejected", "returns_pending",
          "extensions_requested", "extensions_approved", "extensions_rejected",
          "extensions_pending", "extensions_missed", "supervision_cases", "parked_issues",
          "parked_periods", "parked_seconds", "reviews_due")


@dataclass(frozen=True)
class Moves:
    start: datetime
    end: datetime
    departments: tuple[UnitMoves, ...]
    streets: tuple[UnitMoves, ...]
    department_total: UnitMoves
    street_total: UnitMoves
    steps: int  # the highest urging step sent in the period (0: none)
    lifecycle_events: int  # distinct urged / supervised / review_due events read
    duplicates: int  # of those, seen again and skipped

    def rows(self) -> list[tuple[Section, UnitMoves]]:
        """(section, figures) of every row: departments, their total, streets, their total."""
        return [*(("department", x) for x in (*self.departments, self.department_total)),
                *(("street", x) for x in (*self.streets, self.street_total))]


@dataclass
class _Rows:
    departments: frozenset[str]
    territory: Mapping[str, str]
    streets: dict[str, str] = field(default_factory=dict)  # issue -> street, from closures
    dept: dict[str, UnitMoves] = field(default_factory=dict)
    street: dict[str, UnitMoves] = field(default_factory=dict)

    def where(self, issue: str, level: str | None, unit: str,
              street: str | None = None) -> tuple[dict[str, UnitMoves], str]:
        if level == "department" or (level is None and unit in self.departments):
            return self.dept, unit
        street = street or self.streets.get(issue)
        if street is None:
            street = unit if level == "street" else self.territory.get(unit, unit)
        return self.street, street

    def add(self, issue: str, level: str | None, unit: str, counts: UnitMoves,
            street: str | None = None) -> None:
        rows, key = self.where(issue, level, unit, street)
        rows[key] = (rows.get(key) or UnitMoves(key)).plus(counts, key)


def dedupe_moves(items: Iterable[Outbound]) -> tuple[list[MoveEvent], int]:
    """The urged, supervised and review_due events, each (source, id) once."""
    return dedupe_events(items, (IssueUrged, IssueSupervised, IssueReviewDue))


def assess_moves(
    closures: Iterable[IssueClosed],
    lifecycle: Iterable[Outbound],
    start: datetime,
    end: datetime,
    *,
    departments: Iterable[str] = (),
    streets: Iterable[str] = (),
    territory: Mapping[str, str] | None = None,
) -> Moves:
    """The moves of ``[start, end)``. ``closures``: one per issue (``figures.dedupe``);
    ``lifecycle``: any engine events (only urged, supervised and review_due are read). Rows as
    ``figures.assess`` gives them: the ids given, then the others sorted."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the period's start and end need a time zone")
    departments, streets = list(departments), list(streets)
    book = _Rows(frozenset(departments), territory or {})
    book.dept = {d: UnitMoves(d) for d in departments}
    book.street = {s: UnitMoves(s) for s in streets}
    closures = list(closures)
    for c in closures:
        book.streets[c.subject] = c.data.street
    for c in closures:
        if start <= c.data.closed_at < end:
            _closure(book, c)
    events, duplicates = dedupe_moves(lifecycle)
    cases: set[tuple[str, str]] = set()
    steps = 0
    for e in events:
        if not start <= e.time < end:
            continue
        if isinstance(e, IssueReviewDue):
            book.add(e.subject, e.data.level, e.data.unit, UnitMoves("", reviews_due=1))
            continue
        d = e.data
        unit = d.units[0]
        steps = max(steps, d.step)
        counts = UnitMoves("", urgings=(0,) * (d.step - 1) + (1,))
        if isinstance(e, IssueSupervised) and (e.subject, unit) not in cases:
            cases.add((e.subject, unit))
            counts = replace(counts, supervision_cases=1)
        book.add(e.subject, d.level, unit, counts)
    dept_rows = tuple(_widen(r, steps) for r in _ordered(book.dept, departments))
    street_rows = tuple(_widen(r, steps) for r in _ordered(book.street, streets))
    return Moves(
        start=start, end=end, departments=dept_rows, streets=street_rows,
        department_total=_total(dept_rows, steps), street_total=_total(street_rows, steps),
        steps=steps, lifecycle_events=len(events), duplicates=duplicates,
    )


def _closure(book: _Rows, c: IssueClosed) -> None:
    d, issue = c.data, c.subject
    for r in d.returns:
        book.add(issue, r.level, r.unit, UnitMoves(
            "", returns_requested=1, returns_accepted=r.decision == "accepted",
            returns_rejected=r.decision == "rejected", returns_pending=r.decision is None),
            d.street)
    for x in d.extensions:
        book.add(issue, x.level, x.unit, UnitMoves(
            "", extensions_requested=1, extensions_approved=x.decision == "approved",
            extensions_rejected=x.decision == "rejected",
            extensions_pending=x.decision is None,
            extensions_missed=x.decision == "approved" and x.missed), d.street)
    parked_for: set[tuple[bool, str]] = set()
    for p in d.parked:
        seconds = (p.until - p.since).total_seconds()
        rows, key = book.where(issue, None, p.unit, d.street)
        first = (rows is book.dept, key) not in parked_for
        parked_for.add((rows is book.dept, key))
        book.add(issue, None, p.unit, UnitMoves(
            "", parked_issues=first, parked_periods=1, parked_seconds=seconds,
            longest_parked_seconds=seconds), d.street)


def _widen(row: UnitMoves, steps: int) -> UnitMoves:
    return replace(row, urgings=tuple(row.urged(i) for i in range(1, steps + 1)))


def _total(rows: Iterable[UnitMoves], steps: int) -> UnitMoves:
    total = UnitMoves(TOTAL, urgings=(0,) * steps)
    for r in rows:
        total = total.plus(r, TOTAL)
    return total


def duration(seconds: float) -> str:
    """``3d 04:15`` (days, hours, minutes; seconds dropped), ``—`` for none."""
    if seconds <= 0:
        return "—"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}d {rest // 60:02d}:{rest % 60:02d}"


# The definitions, for every format (the HTML page shows them as its legend).
MOVES_LEGEND = (
    "Returns (退单), extensions (延期) and parking (挂账) count from the closures: in the period "
    "the issue closed, as every closure figure does; each issue once.",
    "Invalid-return rate 退单不合理率 = returns rejected / returns requested (pending ones, "
    "undecided when the issue moved on, are in the denominator).",
    "Overdue even after extension 延期后仍超期 = approved extensions whose moved resolve limit "
    "passed all the same / approved extensions.",
    "Urgings 催办 (by step of the rule's urging ladder; the supervise step included) and "
    "reviews due 到期复核 (issue.review_due) count from the lifecycle events, in the period "
    "each was sent, for the unit urged or parked. Supervision cases 督办件 = distinct issues "
    "(per unit) that reached the supervise step in the period.",
    "Parked issues 挂账件 = distinct issues with a parked period by the unit; parked time is "
    "wall time, since to until (a period still running at closure ends there); total and "
    "longest.",
    "Departments count for themselves; grids, villages and streets for the street the issue "
    "was raised in.",
)
