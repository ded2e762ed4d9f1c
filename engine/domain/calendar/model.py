"""The calendar's models and public arithmetic (see the package's docstring)."""

from __future__ import annotations

import math
import weakref
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, field_validator, model_validator

from engine.domain.calendar import beyond, reference
from engine.domain.calendar.common import Hours, require_aware
from engine.domain.calendar.index import UtcIndex, plan_of

Unit = Literal["seconds", "minutes", "hours", "days"]

#: Office hours of a Chinese government office: 09:00-12:00 and 13:30-17:30 (7 hours a day).
DEFAULT_HOURS: Hours = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))

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


class _Adds(Protocol):
    """What ``_indexed_add`` asks of an index (the zone's, or its UTC copy)."""

    def add_days(self, start: datetime, count: int) -> datetime | None: ...

    def add_time(self, start: datetime, amount: timedelta) -> datetime | None: ...


def _indexed_add(index: _Adds, start: datetime, limit: Limit) -> datetime | None:
    """``start`` plus a working-time ``limit`` by an index (None: outside it, for the caller's
    slower path)."""
    try:
        if limit.unit == "days":
            return index.add_days(start, limit.amount)
        return index.add_time(start, _delta(limit))
    except OverflowError:
        return None


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
    # Past ``known_until`` (see ``beyond``): the statutory holidays counted by law and the
    # estimated weekday substitutes, both among ``holidays``, through ``law_until``.
    by_law: frozenset[date] = frozenset()
    estimated: frozenset[date] = frozenset()
    law_until: date | None = None

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
    def _valid_hours(cls, value: Hours) -> Hours:
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

    @model_validator(mode="after")
    def _law_past_known(self) -> WorkingCalendar:
        counted = self.by_law | self.estimated
        if not counted and self.law_until is None:
            return self
        if self.known_until is None or self.law_until is None:
            raise ValueError("holidays by law need known_until and law_until")
        if self.by_law & self.estimated:
            raise ValueError("a day cannot be both a holiday by law and an estimated one")
        if not counted <= self.holidays:
            raise ValueError("holidays by law and estimated ones must be among the holidays")
        if counted and not self.known_until < min(counted) <= max(counted) <= self.law_until:
            raise ValueError("holidays by law lie after known_until, up to law_until")
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
        require_aware(start, "start")
        plan = plan_of(self)
        if not limit.working or self.always:
            return plan.zone.wall_add(start, _delta(limit))
        if limit.amount < 0:
            raise ValueError(f"a working-time limit cannot be negative: {limit}")
        index = plan.index_of(self)
        if index is not None:
            found = _indexed_add(index, start, limit)
            if found is not None:
                return found
        return self._slow_add(start, limit)

    def point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        """The instant when ``fraction`` of the (working) time between start and end has passed."""
        require_aware(start, "start")
        require_aware(end, "end")
        if math.isnan(fraction) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within 0..1, got {fraction}")
        plan = plan_of(self)
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
        require_aware(start, "start")
        require_aware(end, "end")
        if not self.always:
            index = plan_of(self).index_of(self)
            if index is not None:
                try:
                    found = index.seconds_between(start, end)
                except OverflowError:
                    found = None
                if found is not None:
                    return found
        return self._slow_working_seconds_between(start, end)

    # -- the core's UTC arithmetic ---------------------------------------------------------

    def utc(self) -> UtcArithmetic:
        """This calendar's arithmetic on UTC instants, for the core (see ``UtcArithmetic``)."""
        plan = plan_of(self)
        found = plan.utc
        if found is None:
            found = plan.utc = UtcArithmetic(self)
        return found  # type: ignore[return-value]

    def add_utc(self, start: datetime, limit: Limit) -> tuple[datetime, bool]:
        """``add(start, limit)`` as a UTC instant, and whether it is ``beyond_known``."""
        return self.utc().add(start, limit)

    def point_utc(self, start: datetime, end: datetime, fraction: float) -> datetime:
        """``point(start, end, fraction)`` as a UTC instant."""
        return self.utc().point(start, end, fraction)

    def beyond_note(self, last: date) -> str:
        """What this calendar counts past its known data through ``last``, year by year: by
        law, estimated, unknown (``beyond.beyond_note``; "" if ``last`` is not past it)."""
        return beyond.beyond_note(self, last)

    def beyond_known(self, moment: datetime) -> bool:
        """True when ``moment`` falls past the day tables this calendar knows."""
        require_aware(moment, "moment")
        if self.known_until is None:
            return False
        return moment.astimezone(plan_of(self).zone.tz).date() > self.known_until

    # -- reference implementation: the day-by-day loops (``reference``) -----------
    # The fast path above must agree with these exactly (tests/test_calendar.py checks it on
    # generated inputs); they also answer whatever lies outside the index.

    def _slow_add(self, start: datetime, limit: Limit) -> datetime:
        return reference.slow_add(self, start, limit)

    def _slow_point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        return reference.slow_point(self, start, end, fraction)

    def _slow_working_seconds_between(self, start: datetime, end: datetime) -> float:
        return reference.slow_working_seconds_between(self, start, end)


_NOT_YET = object()


class UtcArithmetic:
    """A calendar's ``add`` and ``point`` for the core, which keeps every time in UTC: the
    public operations' answers as UTC instants (``tzinfo is UTC``), ``add`` with
    ``beyond_known`` of the deadline. Where the zone keeps one UTC offset they compute in UTC
    throughout (``zone.Zone.wall_add_utc``/``linear_utc``, ``index.UtcIndex``), which saves
    converting every moment into the zone and back; elsewhere, or for a start not in UTC, they
    are the public operations converted. One per calendar instance (``WorkingCalendar.utc``);
    like the public operations, it builds the calendar's index only for working-time limits.
    """

    __slots__ = ("_always", "_cal", "_fast", "_known", "_offset", "_plan", "_zone")

    def __init__(self, cal: WorkingCalendar) -> None:
        # a weak reference: the calendar's plan holds this object, and the plan goes with the
        # calendar (``index.plan_of``); a strong one would keep every calendar ever loaded
        self._cal = weakref.ref(cal)
        self._always = cal.always
        self._plan = plan = plan_of(cal)
        self._zone = plan.zone
        self._offset = plan.zone.offset  # None: no fixed offset, always the general path
        self._known = None if cal.known_until is None else cal.known_until.toordinal()
        self._fast: object = _NOT_YET  # the UTC-keyed index (or None), once a limit needs it

    def _calendar(self) -> WorkingCalendar:
        cal = self._cal()
        assert cal is not None, "a calendar's UtcArithmetic outlived it"  # its callers hold it
        return cal

    def _index(self) -> UtcIndex | None:
        fast = self._fast
        if fast is _NOT_YET:
            index = self._plan.index_of(self._calendar())
            fast = self._fast = None if index is None else index.utc_index(self._zone)
        return fast  # type: ignore[return-value]

    def add(self, start: datetime, limit: Limit) -> tuple[datetime, bool]:
        offset = self._offset
        if start.tzinfo is UTC and offset is not None:
            found: datetime | None = None
            if not limit.working or self._always:
                found = self._zone.wall_add_utc(start, _delta(limit))
            elif limit.amount >= 0:
                fast = self._fast
                if fast is _NOT_YET:
                    fast = self._index()
                if fast is not None:
                    assert isinstance(fast, UtcIndex)
                    found = _indexed_add(fast, start, limit)
            if found is not None:  # in the fixed range: the local date is that of found + offset
                known = self._known
                return found, known is not None and (found + offset).toordinal() > known
        cal = self._calendar()
        local = cal.add(start, limit)
        return local.astimezone(UTC), cal.beyond_known(local)

    def point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        if (start.tzinfo is UTC and end.tzinfo is UTC and self._offset is not None
                and 0.0 <= fraction <= 1.0):
            found: datetime | None = None
            try:
                if self._always:
                    found = self._zone.linear_utc(start, end, fraction)
                else:
                    fast = self._fast
                    if fast is _NOT_YET:
                        fast = self._index()
                    if fast is not None:
                        assert isinstance(fast, UtcIndex)
                        found = fast.point(start, end, fraction)
            except OverflowError:
                found = None
            if found is not None:
                return found
        return self._calendar().point(start, end, fraction).astimezone(UTC)


def always_calendar(name: str = "24x7") -> WorkingCalendar:
    """A 24x7 calendar: working time is wall time."""
    return WorkingCalendar(name=name, always=True)
