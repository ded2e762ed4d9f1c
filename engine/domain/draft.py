"""``Draft``: the state under construction in one decision, and what it emits and counts.

Times inside the core are UTC (``utc``, ``tzinfo is datetime.UTC``). The draft asks its
calendar's ``UtcArithmetic`` for deadlines and warning points, which answers in UTC (computing
in UTC throughout where the zone keeps one offset, as Asia/Shanghai does).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.domain.calendar import Limit, UtcArithmetic, WorkingCalendar
from engine.domain.decision import Count, Family
from engine.domain.events import Outbound
from engine.domain.fast import defaults_of, make, replace
from engine.domain.ruleset import Rule, Ruleset
from engine.domain.state import Deadline, DeadlineKind, IssueState


def utc(moment: datetime) -> datetime:
    """Times inside the core are UTC: aware datetimes with one shared tzinfo compare without
    calling ``utcoffset()``, which made comparisons the single largest cost of a decision.
    Calendars convert to their own zone for working-time arithmetic."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


class Draft:
    """The state under construction in one decision (mutable on purpose, local to it)."""

    def __init__(self, state: IssueState, rules: Ruleset, rule: Rule, version: int,
                 *, own: bool = False) -> None:
        # the draft's own copy of the state, changed in place (one copy per decision instead of
        # one per change); ``own``: ``state`` was just built for this draft, nobody else has it.
        # Code that keeps ``s = draft.state`` sees later changes: read what you need first.
        self.state = state if own else replace(state)
        self.rules = rules
        self.rule = rule
        self.calendar: WorkingCalendar = rules.calendars[rule.calendar]
        self._utc: UtcArithmetic | None = None  # the calendar's, once a deadline is computed
        self.version = version  # the version this decision produces; tokens of new deadlines
        self.emit: list[Outbound] = []
        self.counts: list[Count] = []
        self.warnings: list[str] = []

    def update(self, **changes: Any) -> None:
        self.state.__dict__.update(changes)  # ``fast.amend``: the draft's own copy

    def count(self, family: Family, labels: tuple[tuple[str, str], ...], value: float = 1.0
              ) -> None:
        """Count ``value`` in ``family`` with ``labels`` (name, value pairs, in the order the
        shell's metric declares them)."""
        self.counts.append(Count(family, labels, value))

    def send(self, cls: type[Outbound], data: Any, at: datetime) -> None:
        issue_id, emit = self.state.issue_id, self.emit
        emit.append(make(cls, {  # the envelope's defaults (source, type, ...), then its own
            **defaults_of(cls), "id": f"{issue_id}:{self.version}:{len(emit)}",
            "subject": issue_id, "time": at, "data": data}))

    def add(self, start: datetime, limit: Limit) -> datetime:
        ops = self._utc
        if ops is None:
            ops = self._utc = self.calendar.utc()
        due, beyond = ops.add(start, limit)
        if beyond:
            cal = self.calendar
            local = cal.add(start, limit)  # the warning names the deadline in the zone
            self.warnings.append(
                f"calendar {cal.name}: deadline {local.isoformat()} is past its known "
                f"holiday data ({cal.known_until}); {cal.beyond_note(local.date())}"
            )
        return due

    def deadline(
        self, kind: DeadlineKind, unit: str, start: datetime, due: datetime
    ) -> list[Deadline]:
        """A limit's deadline and, if the rule says so, its pre-breach warning point."""
        out = [Deadline(kind, unit, due, self.version)]
        warn_at = self.rule.warn_at
        if warn_at is not None and kind != "rating":
            ops = self._utc
            if ops is None:
                ops = self._utc = self.calendar.utc()
            point = ops.point(start, due, warn_at)
            if start < point < due:
                out.append(Deadline(kind, unit, point, self.version, True, due))
        return out
