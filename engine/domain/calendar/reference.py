"""The reference implementation of working-time arithmetic: the day-by-day loops.

Simple enough to be obviously right, too slow for a decision's budget: the indexed fast path
(``index``) must agree with these exactly (tests/test_calendar.py checks it on generated
inputs, and benchmarks/calendar_bench.py measures both). They also answer whatever lies outside
the index. All instants here are UTC; results are aware datetimes in the calendar's zone.
``WorkingCalendar._slow_*`` delegate to the ``slow_*`` functions below.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engine.domain.calendar.common import MAX_DAYS, ONE_DAY, Hours, require_aware

if TYPE_CHECKING:
    from engine.domain.calendar.model import Limit, WorkingCalendar

_Span = tuple[tuple[datetime, datetime], ...]
_NOTHING: _Span = ()


class _IntervalTable:
    """Working intervals per local date as UTC instants, memoised for one (zone, hours) pair."""

    __slots__ = ("_days", "_hours", "_tz")

    def __init__(self, zone: str, hours: Hours) -> None:
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
def _interval_table(zone: str, hours: Hours) -> _IntervalTable:
    return _IntervalTable(zone, hours)


# -- the public operations ---------------------------------------------------------------------


def slow_add(cal: WorkingCalendar, start: datetime, limit: Limit) -> datetime:
    require_aware(start, "start")
    tz = _tz(cal)
    begin = start.astimezone(UTC)
    if not limit.working or cal.always:
        return (begin + timedelta(seconds=limit.seconds)).astimezone(tz)
    if limit.amount < 0:
        raise ValueError(f"a working-time limit cannot be negative: {limit}")
    if limit.unit == "days":
        return _slow_add_days(cal, begin, limit.amount)
    return _slow_consume(cal, begin, timedelta(seconds=limit.seconds)).astimezone(tz)


def slow_point(cal: WorkingCalendar, start: datetime, end: datetime, fraction: float) -> datetime:
    require_aware(start, "start")
    require_aware(end, "end")
    if math.isnan(fraction) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within 0..1, got {fraction}")
    tz = _tz(cal)
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if hi < lo:
        raise ValueError("end must not be before start")
    working = timedelta(0) if cal.always else _slow_working_between(cal, lo, hi)
    if working <= timedelta(0):
        result = lo + (hi - lo) * fraction
    else:
        result = _slow_consume(cal, lo, working * fraction)
    return min(max(result, lo), hi).astimezone(tz)


def slow_working_seconds_between(cal: WorkingCalendar, start: datetime, end: datetime) -> float:
    require_aware(start, "start")
    require_aware(end, "end")
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if cal.always:
        return max(hi - lo, timedelta(0)).total_seconds()
    return _slow_working_between(cal, lo, hi).total_seconds()


# -- the loops ---------------------------------------------------------------------------------


def _tz(cal: WorkingCalendar) -> ZoneInfo:
    return ZoneInfo(cal.timezone)


def _local_date(cal: WorkingCalendar, moment: datetime) -> date:
    return moment.astimezone(_tz(cal)).date()


def _intervals(cal: WorkingCalendar) -> Callable[[date], _Span]:
    """Working intervals of a local date (none on a day off), as UTC instants."""
    table = _interval_table(cal.timezone, cal.hours)
    working = cal.is_working_day

    def intervals(day: date) -> _Span:
        return table.of(day) if working(day) else _NOTHING

    return intervals


def _slow_consume(cal: WorkingCalendar, start: datetime, amount: timedelta) -> datetime:
    """``start`` plus ``amount`` of working time; an exact fill ends at the interval's end."""
    if amount <= timedelta(0):
        return start
    remaining = amount
    day, intervals = _local_date(cal, start), _intervals(cal)
    for _ in range(MAX_DAYS):
        for a, b in intervals(day):
            lo = max(a, start)
            if lo >= b:
                continue
            available = b - lo
            if remaining <= available:
                return lo + remaining
            remaining -= available
        day += ONE_DAY
    raise ValueError(f"{amount} of working time not reached within {MAX_DAYS} days")


def _slow_locate(cal: WorkingCalendar, moment: datetime) -> datetime:
    """``moment`` if inside working time (half-open intervals), else the next opening."""
    day, intervals = _local_date(cal, moment), _intervals(cal)
    for _ in range(MAX_DAYS):
        for a, b in intervals(day):
            if moment < b:
                return max(a, moment)
        day += ONE_DAY
    raise ValueError(f"no working time within {MAX_DAYS} days of {moment.isoformat()}")


def _slow_add_days(cal: WorkingCalendar, start: datetime, count: int) -> datetime:
    tz = _tz(cal)
    local = _slow_locate(cal, start).astimezone(tz)
    day, time_of_day = local.date(), local.time()
    remaining, scanned = count, 0
    while remaining:
        day += ONE_DAY
        scanned += 1
        if scanned > MAX_DAYS:
            raise ValueError(f"{count} working days not reached within {MAX_DAYS} days")
        if cal.is_working_day(day):
            remaining -= 1
    # Round-trip through UTC so a wall time inside a DST gap becomes a real instant.
    return datetime.combine(day, time_of_day, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _slow_working_between(cal: WorkingCalendar, start: datetime, end: datetime) -> timedelta:
    total = timedelta(0)
    if end <= start:
        return total
    day, last = _local_date(cal, start), _local_date(cal, end)
    intervals = _intervals(cal)
    while day <= last:
        for a, b in intervals(day):
            overlap = min(b, end) - max(a, start)
            if overlap > timedelta(0):
                total += overlap
        day += ONE_DAY
    return total
