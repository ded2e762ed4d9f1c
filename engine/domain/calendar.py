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

Boundaries: working intervals are half-open ``[start, end)`` for deciding whether a moment is
inside working time (a start at exactly 17:30 is outside and moves to the next opening), but a
working-time deadline that consumes an interval to its very end is that end (10:00 plus 2
working hours with a 12:00 lunch break is 12:00, not 13:30). All arithmetic is done on UTC
instants; results are aware datetimes in the calendar's zone.

Speed: a decision calls ``add``/``point`` several times and must cost about 10 µs in all. This
module holds the models and the public arithmetic; the work is split by responsibility:
- ``calendar_index``: the precomputed working-interval index, the fast path (two bisections
  for ``N working hours``, one for ``N working days``), built lazily per calendar;
- ``calendar_zone``: where a zone provably keeps one UTC offset, so wall time needs no
  conversion (wall limits and 24x7 calendars never build an index);
- ``calendar_reference``: the day-by-day loops (``_slow_*``), the reference the tests compare
  the fast path against and the fallback for whatever falls outside the index;
- ``calendar_common``: the scan bound and awareness check they all share.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, field_validator, model_validator

from engine.domain import calendar_reference as reference
from engine.domain.calendar_common import _Hours, _require_aware
from engine.domain.calendar_index import _plan

Unit = Literal["seconds", "minutes", "hours", "days"]

#: Office hours of a Chinese government office: 09:00-12:00 and 13:30-17:30 (7 hours a day).
DEFAULT_HOURS: _Hours = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class Limit(BaseModel, frozen=True, extra="forbid"):
    """A time limit as written in a rule file, e.g. ``4h`` or ``3 working days``."""

    amount: int
    unit: Unit
    working: bool = False
    text: str = ""

    @property
    def seconds(self) -> int:
        """Length in seconds (a working day counts as a calendar's working-day length elsewhere)."""
        return self.amount * _UNIT_SECONDS[self.unit]

    def __str__(self) -> str:
        return self.text or f"{self.amount} {'working ' if self.working else ''}{self.unit}"


_deltas: dict[tuple[int, str], timedelta] = {}


def _delta(limit: Limit) -> timedelta:
    """``timedelta(seconds=limit.seconds)``, memoised (constructing one costs ~0.5 µs)."""
    key = (limit.amount, limit.unit)
    found = _deltas.get(key)
    if found is None:
        found = timedelta(seconds=limit.seconds)
        if len(_deltas) < 4096:
            _deltas[key] = found
    return found


class WorkingCalendar(BaseModel, frozen=True, extra="forbid"):
    name: str
    timezone: str = "Asia/Shanghai"
    always: bool = False
    hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS
    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    known_until: date | None = None

    # -- validation ------------------------------------------------------------------------

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: _Hours) -> _Hours:
        previous_end: time | None = None
        for begin, end in value:
            if begin.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("working hours are local times without tzinfo")
            if not begin < end:
                raise ValueError(f"working interval {begin}-{end} must start before it ends")
            if previous_end is not None and begin < previous_end:
                raise ValueError("working intervals must be sorted and must not overlap")
            previous_end = end
        return value

    @field_validator("weekend")
    @classmethod
    def _valid_weekend(cls, value: frozenset[int]) -> frozenset[int]:
        if not value <= frozenset(range(7)):
            raise ValueError("weekend days are weekday numbers 0 (Monday) .. 6 (Sunday)")
        return value

    @model_validator(mode="after")
    def _has_working_time(self) -> WorkingCalendar:
        if not self.always and not self.hours:
            raise ValueError("a calendar that is not 24x7 needs working hours")
        return self

    # -- public API ------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend

    def add(self, start: datetime, limit: Limit) -> datetime:
        """The deadline for ``limit`` counted from ``start`` (aware datetime in, aware out)."""
        _require_aware(start, "start")
        plan = _plan(self)
        if not limit.working or self.always:
            return plan.zone.wall_add(start, _delta(limit))
        if limit.amount < 0:
            raise ValueError(f"a working-time limit cannot be negative: {limit}")
        index = plan.index_of(self)
        if index is not None:
            try:
                if limit.unit == "days":
                    found = index.add_days(start, limit.amount)
                else:
                    found = index.add_time(start, _delta(limit))
            except OverflowError:
                found = None
            if found is not None:
                return found
        return self._slow_add(start, limit)

    def point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        """The instant when ``fraction`` of the (working) time between start and end has passed."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if math.isnan(fraction) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within 0..1, got {fraction}")
        plan = _plan(self)
        try:
            if self.always:
                found = plan.zone.linear(start, end, fraction)
            else:
                index = plan.index_of(self)
                found = None if index is None else index.point(start, end, fraction)
        except OverflowError:
            found = None
        return self._slow_point(start, end, fraction) if found is None else found

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time in ``[start, end)`` (wall seconds for a 24x7 calendar); 0 if
        ``end`` is not after ``start``."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if not self.always:
            index = _plan(self).index_of(self)
            if index is not None:
                try:
                    found = index.seconds_between(start, end)
                except OverflowError:
                    found = None
                if found is not None:
                    return found
        return self._slow_working_seconds_between(start, end)

    def beyond_known(self, moment: datetime) -> bool:
        """True when ``moment`` falls past the day tables this calendar knows."""
        _require_aware(moment, "moment")
        if self.known_until is None:
            return False
        return moment.astimezone(_plan(self).zone.tz).date() > self.known_until

    # -- reference implementation: the day-by-day loops (``calendar_reference``) -----------
    # The fast path above must agree with these exactly (tests/test_calendar.py checks it on
    # generated inputs); they also answer whatever lies outside the index.

    def _slow_add(self, start: datetime, limit: Limit) -> datetime:
        return reference._slow_add(self, start, limit)

    def _slow_point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        return reference._slow_point(self, start, end, fraction)

    def _slow_working_seconds_between(self, start: datetime, end: datetime) -> float:
        return reference._slow_working_seconds_between(self, start, end)


def always_calendar(name: str = "24x7") -> WorkingCalendar:
    """A 24x7 calendar: working time is wall time."""
    return WorkingCalendar(name=name, always=True)
