"""The three rates (三率) per unit, with limits already missed on open issues counted: pure.

Beijing's 12345 assessment rates each unit by its response rate (响应率), resolution rate
(解决率) and satisfaction rate (满意率). A rate counted from closures alone hides what is late
now, so here every limit a unit has missed counts from the moment it was missed, whether or not
its issue has closed since. The sources are the ``issue.closed`` events (the closed loop) and
three lifecycle events: ``issue.overdue`` (which limit, level and unit missed it, when),
``issue.reopened`` and ``issue.escalated`` with reason ``reopened_too_often`` (an unsatisfied
rating of a unit's resolution; the engine closes an issue only when it is rated satisfied or
its rating window lapses).

What is counted, exactly (docs/contract.md, "Report", says the same):

- A **limit** is one (issue, kind, unit): the engine's respond limit of a grid, village or
  street holder, a department's report (报到) limit, or a holder's resolve limit. A reopened
  issue's new resolve limit for the same unit is the same limit: each counts once.
- **Response rate**: responses on time / responses due. For a department its response is its
  report (报到). Due = on time + late + missed + open overdue (missed, the issue not closed).
- **Resolution rate**: resolutions within the limit / resolutions due. A unit owes a resolution
  when it resolved the issue (the closure's holder, or the holder of a rating that reopened
  it) or missed its resolve limit (and so owes it still, or passed it on late).
- **Satisfaction rate**: satisfied / rated, per resolution owed (as above). A unit's resolution
  is satisfied when the issue closed satisfied with it as holder, unsatisfied when a rating of
  its resolution was unsatisfied (and none later satisfied); an issue still open whose resolve
  limit the unit missed counts as not satisfied (open overdue) until it closes. Unrated
  resolutions (the rating window lapsed, the issue was withdrawn, or the unit missed and passed
  it on) are shown and left out of the denominator.
- **In the period**: a limit counts in the period that holds the moment its outcome became
  known: its due time when it was missed (the ``issue.overdue`` event's ``due``), else its
  issue's closure (``closed_at``), or for a resolution the first rating of it. So a limit counts
  in exactly one period, and a late limit counts in the period it was missed, not again when
  its issue closes. An open limit not yet missed is not counted: the engine emits no event when
  a limit is met on an issue still open, so it counts when the issue closes.
- **Attribution**: to the unit that held the limit (the overdue event's ``unit``; the holder of
  the path entry or report record of the closure). Departments are rows of their own; limits of
  grid, village and street holders count for the street (镇/街道) the issue was raised in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal

from engine.domain.events import IssueClosed, IssueEscalated, IssueOverdue, IssueReopened, Outbound
from engine.report.figures import TOTAL, Rate, _ordered, dedupe_events

Section = Literal["department", "street"]
RATED_KINDS = ("respond", "report", "resolve")  # progress (反馈) reminders are not a rate
Lifecycle = IssueOverdue | IssueReopened | IssueEscalated


@dataclass(frozen=True)
class UnitRates:
    """The three rates of one department or street (``unit == TOTAL``: a section's total)."""

    unit: str
    responses_on_time: int = 0
    responses_late: int = 0  # answered after the limit; the issue closed since
    responses_missed: int = 0  # never answered (left unanswered, or closed without it)
    responses_open_overdue: int = 0  # missed, and the issue is still open
    resolutions_on_time: int = 0
    resolutions_overdue: int = 0  # resolve limit missed; the issue closed since
    resolutions_open_overdue: int = 0  # resolve limit missed, and the issue is still open
    satisfied: int = 0
    unsatisfied: int = 0
    satisfaction_open_overdue: int = 0  # resolve limit missed, issue open: not satisfied (yet)
    unrated: int = 0  # shown, never in a denominator

    @property
    def responses_due(self) -> int:
        return (self.responses_on_time + self.responses_late + self.responses_missed
                + self.responses_open_overdue)

    @property
    def resolutions_due(self) -> int:
        return self.resolutions_on_time + self.resolutions_overdue + self.resolutions_open_overdue

    @property
    def rated(self) -> int:
        return self.satisfied + self.unsatisfied + self.satisfaction_open_overdue

    @property
    def response_rate(self) -> Rate:
        return Rate(self.responses_on_time, self.responses_due)

    @property
    def resolution_rate(self) -> Rate:
        return Rate(self.resolutions_on_time, self.resolutions_due)

    @property
    def satisfaction_rate(self) -> Rate:
        return Rate(self.satisfied, self.rated)

    def plus(self, other: UnitRates, unit: str | None = None) -> UnitRates:
        return UnitRates(unit or self.unit, **{
            f.name: getattr(self, f.name) + getattr(other, f.name) for f in COUNT_FIELDS})


COUNT_FIELDS = tuple(f for f in fields(UnitRates) if f.name != "unit")


@dataclass(frozen=True)
class ThreeRates:
    start: datetime
    end: datetime
    departments: tuple[UnitRates, ...]
    streets: tuple[UnitRates, ...]
    department_total: UnitRates
    street_total: UnitRates
    lifecycle_events: int  # distinct overdue / reopened / escalated events read
    duplicates: int  # lifecycle events seen again (same source and id), skipped


@dataclass
class _Limit:
    """What is known of one (issue, kind, unit) limit."""

    section: Section
    row: str  # the department, or the street
    missed_at: datetime | None = None  # the due time of its first miss
    settled_at: datetime | None = None  # the closure (response) or first rating (resolution)
    outcome: str | None = None  # response: on_time, late, missed (from the closure)
    resolved: bool = False  # resolution: the unit resolved it (closure or rating)
    rating: bool | None = None  # resolution: True satisfied, False unsatisfied, None unrated
    open: bool = True  # the issue has no closure


@dataclass
class _Book:
    territory: Mapping[str, str]  # grid and village ids -> their street (the org registry)
    limits: dict[tuple[str, str, str], _Limit] = field(default_factory=dict)
    of_issue: dict[str, list[_Limit]] = field(default_factory=dict)
    streets: dict[str, str] = field(default_factory=dict)  # issue -> street, from closures

    def row(self, issue: str, level: str, unit: str) -> tuple[Section, str]:
        if level == "department":
            return "department", unit
        street = self.streets.get(issue)
        if street is None:
            street = unit if level == "street" else self.territory.get(unit, unit)
        return "street", street

    def limit(self, issue: str, kind: str, level: str, unit: str) -> _Limit:
        key = (issue, "resolve" if kind == "resolve" else "respond", unit)
        found = self.limits.get(key)
        if found is None:
            section, row = self.row(issue, level, unit)
            found = self.limits[key] = _Limit(section, row)
            self.of_issue.setdefault(issue, []).append(found)
        return found


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def dedupe_lifecycle(items: Iterable[Outbound]) -> tuple[list[Lifecycle], int]:
    return dedupe_events(items, (IssueOverdue, IssueReopened, IssueEscalated))


def assess_rates(
    closures: Iterable[IssueClosed],
    lifecycle: Iterable[Outbound],
    start: datetime,
    end: datetime,
    *,
    departments: Iterable[str] = (),
    streets: Iterable[str] = (),
    territory: Mapping[str, str] | None = None,
) -> ThreeRates:
    """The three rates of the limits settled in ``[start, end)``.

    ``closures``: one per issue (``figures.dedupe``); ``lifecycle``: any engine events (the
    ones that are not overdue, reopened or escalated are passed over; redeliveries count once).
    ``territory`` maps grid and village ids to their street, for open issues (a closure says
    its street). Rows as ``figures.assess`` gives them: the ids given, then the others sorted.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the period's start and end need a time zone")
    events, duplicates = dedupe_lifecycle(lifecycle)
    book = _Book(territory or {})
    closures = list(closures)
    for c in closures:
        book.streets[c.subject] = c.data.street
    # missed limits and unsatisfied ratings first: a closure then settles what they left open
    for e in events:
        if isinstance(e, IssueOverdue):
            d = e.data
            if d.kind not in RATED_KINDS:
                continue
            lim = book.limit(e.subject, d.kind, d.level, d.unit)
            lim.missed_at = _earliest(lim.missed_at, d.due)
        elif isinstance(e, IssueReopened):
            _unsatisfied(book.limit(e.subject, "resolve", e.data.level, e.data.units[0]), e)
        elif e.data.reason == "reopened_too_often":
            _unsatisfied(book.limit(e.subject, "resolve", e.data.from_level,
                                    e.data.from_units[0]), e)
    for c in closures:
        _closure(book, c)

    dept: dict[str, UnitRates] = {d: UnitRates(d) for d in departments}
    street: dict[str, UnitRates] = {s: UnitRates(s) for s in streets}
    for (_, kind, _), lim in book.limits.items():
        when = lim.missed_at or lim.settled_at
        if when is None or not start <= when < end:
            continue
        rows = dept if lim.section == "department" else street
        row = rows.get(lim.row) or UnitRates(lim.row)
        rows[lim.row] = row.plus(_counts(kind, lim))
    dept_rows = _ordered(dept, departments)
    street_rows = _ordered(street, streets)
    return ThreeRates(
        start=start, end=end, departments=dept_rows, streets=street_rows,
        department_total=_total(dept_rows), street_total=_total(street_rows),
        lifecycle_events=len(events), duplicates=duplicates,
    )


def _unsatisfied(lim: _Limit, e: Outbound) -> None:
    lim.resolved = True
    lim.rating = False
    lim.settled_at = _earliest(lim.settled_at, e.time)


def _closure(book: _Book, c: IssueClosed) -> None:
    d, issue, at = c.data, c.subject, c.data.closed_at
    for lim in book.of_issue.get(issue, ()):
        lim.open = False
    for entry in d.path:
        if entry.level != "department" and entry.response is not None:
            lim = book.limit(issue, "respond", entry.level, entry.units[0])
            lim.outcome, lim.open = entry.response, False
            lim.settled_at = _earliest(lim.settled_at, at)
    for r in d.reports:
        lim = book.limit(issue, "report", "department", r.department)
        lim.outcome, lim.open = r.outcome or "missed", False
        lim.settled_at = _earliest(lim.settled_at, at)
    if d.outcome == "resolved":
        lim = book.limit(issue, "resolve", d.closed_level, d.closed_units[0])
        lim.resolved, lim.open = True, False
        lim.settled_at = _earliest(lim.settled_at, at)
        if d.satisfied is True:
            lim.rating = True
        elif d.satisfied is False:  # (the engine reopens instead; kept for completeness)
            lim.rating = False


def _counts(kind: str, lim: _Limit) -> UnitRates:
    if kind == "respond":  # respond and report limits: the response rate
        if lim.missed_at is None:
            outcome = lim.outcome or "missed"
            return UnitRates("", responses_on_time=outcome == "on_time",
                             responses_late=outcome == "late",
                             responses_missed=outcome == "missed")
        if lim.open:
            return UnitRates("", responses_open_overdue=1)
        # missed: the closure says whether it came late or never (on time cannot follow a miss)
        return UnitRates("", responses_late=lim.outcome in ("late", "on_time"),
                         responses_missed=lim.outcome not in ("late", "on_time"))
    if lim.missed_at is None:
        resolution = UnitRates("", resolutions_on_time=1)
    elif lim.open:
        resolution = UnitRates("", resolutions_open_overdue=1)
    else:
        resolution = UnitRates("", resolutions_overdue=1)
    if lim.rating is True:
        rating = UnitRates("", satisfied=1)
    elif lim.rating is False:
        rating = UnitRates("", unsatisfied=1)
    elif lim.missed_at is not None and lim.open:
        rating = UnitRates("", satisfaction_open_overdue=1)
    else:
        rating = UnitRates("", unrated=1)
    return resolution.plus(rating)


def _total(rows: Iterable[UnitRates]) -> UnitRates:
    total = UnitRates(TOTAL)
    for r in rows:
        total = total.plus(r, TOTAL)
    return total
