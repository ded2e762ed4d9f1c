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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, field_validator, model_validator

Unit = Literal["seconds", "minutes", "hours", "days"]

# Upper bound on the days any day loop may scan (about ten years): a calendar with no working
# day at all, or an absurd limit, fails loudly instead of looping forever.
_MAX_DAYS = 3660

_Hours = tuple[tuple[time, time], ...]

#: Office hours of a Chinese government office: 09:00-12:00 and 13:30-17:30 (7 hours a day).
DEFAULT_HOURS: _Hours = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))


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


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")


_Span = tuple[tuple[datetime, datetime], ...]
_ONE_DAY = timedelta(days=1)
_NOTHING: _Span = ()


class _IntervalTable:
    """Working intervals per local date as UTC instants, memoised for one (zone, hours) pair."""

    __slots__ = ("_days", "_hours", "_tz")

    def __init__(self, zone: str, hours: _Hours) -> None:
        self._tz = ZoneInfo(zone)
        self._hours = hours
        self._days: dict[date, _Span] = {}

    def of(self, day: date) -> _Span:
        span = self._days.get(day)
        if span is None:
            if len(self._days) > 100_000:  # bounded memory for pathological callers
                self._days.clear()
            out: list[tuple[datetime, datetime]] = []
            for begin, end in self._hours:
                a = datetime.combine(day, begin, tzinfo=self._tz).astimezone(UTC)
                b = datetime.combine(day, end, tzinfo=self._tz).astimezone(UTC)
                if a < b:  # a DST jump may swallow a sliver of an interval; never go negative
                    out.append((a, b))
            span = self._days[day] = tuple(out)
        return span


@lru_cache(maxsize=64)
def _interval_table(zone: str, hours: _Hours) -> _IntervalTable:
    return _IntervalTable(zone, hours)


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
        tz = self._zone()
        begin = start.astimezone(UTC)
        if not limit.working or self.always:
            return (begin + timedelta(seconds=limit.seconds)).astimezone(tz)
        if limit.amount < 0:
            raise ValueError(f"a working-time limit cannot be negative: {limit}")
        if limit.unit == "days":
            return self._add_days(begin, limit.amount)
        return self._consume(begin, timedelta(seconds=limit.seconds)).astimezone(tz)

    def point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        """The instant when ``fraction`` of the (working) time between start and end has passed."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if math.isnan(fraction) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within 0..1, got {fraction}")
        tz = self._zone()
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        if hi < lo:
            raise ValueError("end must not be before start")
        working = timedelta(0) if self.always else self._working_between(lo, hi)
        if working <= timedelta(0):
            result = lo + (hi - lo) * fraction
        else:
            result = self._consume(lo, working * fraction)
        return min(max(result, lo), hi).astimezone(tz)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time in ``[start, end)`` (wall seconds for a 24x7 calendar); 0 if
        ``end`` is not after ``start``."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        if self.always:
            return max(hi - lo, timedelta(0)).total_seconds()
        return self._working_between(lo, hi).total_seconds()

    def beyond_known(self, moment: datetime) -> bool:
        """True when ``moment`` falls past the day tables this calendar knows."""
        _require_aware(moment, "moment")
        if self.known_until is None:
            return False
        return moment.astimezone(self._zone()).date() > self.known_until

    # -- helpers (all instants in UTC) -----------------------------------------------------

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._zone()).date()

    def _intervals(self) -> Callable[[date], _Span]:
        """Working intervals of a local date (none on a day off), as UTC instants."""
        table = _interval_table(self.timezone, self.hours)
        working = self.is_working_day

        def intervals(day: date) -> _Span:
            return table.of(day) if working(day) else _NOTHING

        return intervals

    def _consume(self, start: datetime, amount: timedelta) -> datetime:
        """``start`` plus ``amount`` of working time; an exact fill ends at the interval's end."""
        if amount <= timedelta(0):
            return start
        remaining = amount
        day, intervals = self._local_date(start), self._intervals()
        for _ in range(_MAX_DAYS):
            for a, b in intervals(day):
                lo = max(a, start)
                if lo >= b:
                    continue
                available = b - lo
                if remaining <= available:
                    return lo + remaining
                remaining -= available
            day += _ONE_DAY
        raise ValueError(f"{amount} of working time not reached within {_MAX_DAYS} days")

    def _locate(self, moment: datetime) -> datetime:
        """``moment`` if inside working time (half-open intervals), else the next opening."""
        day, intervals = self._local_date(moment), self._intervals()
        for _ in range(_MAX_DAYS):
            for a, b in intervals(day):
                if moment < b:
                    return max(a, moment)
            day += _ONE_DAY
        raise ValueError(f"no working time within {_MAX_DAYS} days of {moment.isoformat()}")

    def _add_days(self, start: datetime, count: int) -> datetime:
        tz = self._zone()
        local = self._locate(start).astimezone(tz)
        day, time_of_day = local.date(), local.time()
        remaining, scanned = count, 0
        while remaining:
            day += _ONE_DAY
            scanned += 1
            if scanned > _MAX_DAYS:
                raise ValueError(f"{count} working days not reached within {_MAX_DAYS} days")
            if self.is_working_day(day):
                remaining -= 1
        # Round-trip through UTC so a wall time inside a DST gap becomes a real instant.
        return datetime.combine(day, time_of_day, tzinfo=tz).astimezone(UTC).astimezone(tz)

    def _working_between(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        if end <= start:
            return total
        day, last = self._local_date(start), self._local_date(end)
        intervals = self._intervals()
        while day <= last:
            for a, b in intervals(day):
                overlap = min(b, end) - max(a, start)
                if overlap > timedelta(0):
                    total += overlap
            day += _ONE_DAY
        return total


def always_calendar(name: str = "24x7") -> WorkingCalendar:
    """A 24x7 calendar: working time is wall time."""
    return WorkingCalendar(name=name, always=True)
