"""Time limits and working-time arithmetic.

A limit is either wall time (``30m``, ``4h``, ``7d``: 24x7) or working time (``2 working hours``,
``3 working days``) counted in a ``WorkingCalendar``: working hours in a time zone, weekends,
China's public holidays and make-up working days (调休). The calendar's day tables are data
handed in by the rules layer (from ``chinese-calendar`` plus YAML overrides); this module only
does arithmetic, so the core stays pure and testable.

Semantics (the README's guide repeats them for operators):
- ``N working hours/minutes/seconds``: consume N of working time, counting only the working
  intervals of working days.
- ``N working days``: from the start, move to working time if outside it, then step N working
  days forward keeping the time of day (a Friday 16:00 start plus 1 working day is the next
  working day at 16:00).
- A calendar with ``always=True`` treats working time as wall time (24x7).
- ``known_until`` is the last date the day tables are known for; a deadline past it is computed
  with weekends only and flagged by ``beyond_known``: the caller must warn loudly.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel

Unit = Literal["seconds", "minutes", "hours", "days"]


class Limit(BaseModel, frozen=True, extra="forbid"):
    """A time limit as written in a rule file, e.g. ``4h`` or ``3 working days``."""

    amount: int
    unit: Unit
    working: bool = False
    text: str = ""

    @property
    def seconds(self) -> int:
        """Length in seconds (a working day counts as a calendar's working-day length elsewhere)."""
        return self.amount * {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[self.unit]

    def __str__(self) -> str:
        return self.text or f"{self.amount} {'working ' if self.working else ''}{self.unit}"


class WorkingCalendar(BaseModel, frozen=True, extra="forbid"):
    name: str
    timezone: str = "Asia/Shanghai"
    always: bool = False
    hours: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    known_until: date | None = None

    def is_working_day(self, day: date) -> bool:
        raise NotImplementedError

    def add(self, start: datetime, limit: Limit) -> datetime:
        """The deadline for ``limit`` counted from ``start`` (aware datetime in, aware out)."""
        raise NotImplementedError

    def point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        """The instant when ``fraction`` of the (working) time between start and end has passed."""
        raise NotImplementedError

    def beyond_known(self, moment: datetime) -> bool:
        """True when ``moment`` falls past the day tables this calendar knows."""
        raise NotImplementedError

