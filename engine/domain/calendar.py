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

Speed: a decision calls ``add``/``point`` several times and must cost about 10 µs in all, so the
day-by-day loops (``_slow_*``, kept as the reference the tests compare against) are only the
fallback. Each calendar lazily builds an ``_Index``: every working interval from a year before
its holiday data to five years past it (or past today), laid end to end with running totals,
so ``N working hours`` is two bisections and ``N working days`` one bisection over the working
dates. When the zone's own TZif data prove a fixed UTC offset over that range (Asia/Shanghai
since 1991), the index holds datetimes in the zone itself, which compare and subtract by wall
time with no conversion in or out; otherwise it holds UTC instants and converts through the
zone, as the loops do. Wall limits and 24x7 calendars never build an index. Whatever falls
outside the indexed range takes the reference loops.
"""

from __future__ import annotations

import math
import re
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache, partial
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


# tzinfo types whose utcoffset() is never None: no need to call it to know a moment is aware.
_ALWAYS_AWARE = frozenset({ZoneInfo, timezone})


def _require_aware(moment: datetime, what: str) -> None:
    tzinfo = moment.tzinfo
    if tzinfo is None or (type(tzinfo) not in _ALWAYS_AWARE and moment.utcoffset() is None):
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")


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


_Span = tuple[tuple[datetime, datetime], ...]
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
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


# -- the fast path -----------------------------------------------------------------------------

# A POSIX TZ footer with a standard time only (``CST-8``, ``<+08>-8``): no daylight saving rule.
_STANDARD_ONLY = re.compile(r"(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]+>)[+-]?\d{1,2}(?::\d{2}){0,2}")
# Wall times, naive here; ``_Zone`` attaches the zone.
_FIXED_UNTIL = datetime(9000, 1, 1)  # noqa: DTZ001 - far enough, clear of datetime.max
_UNIX_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001


def _fixed_since(tz: ZoneInfo) -> datetime | None:
    """The local wall time from which ``tz`` keeps one UTC offset (up to year 9000), or None.

    Proof, not sampling: read with the loader ``ZoneInfo`` itself uses, the zone's TZif data
    must have no transition after that moment and a footer (the rule for all later instants)
    without daylight saving time. The two-day margin past the last transition keeps every
    moment with an earlier offset below the returned wall time (offsets differ by < 27 h).
    None whenever that cannot be shown: the index then converts through the zone.
    """
    try:
        from zoneinfo import _common, _tzpath

        key = tz.key
        path = _tzpath.find_tzfile(key)
        fobj = _common.load_tzdata(key) if path is None else open(path, "rb")  # noqa: SIM115
        with fobj:
            _, transitions, _, _, _, footer = _common.load_data(fobj)
        if footer is None or not _STANDARD_ONLY.fullmatch(footer.decode("ascii")):
            return None
        if transitions:
            since = _UNIX_EPOCH + timedelta(seconds=max(transitions)) + 2 * _ONE_DAY
        else:
            since = datetime(1900, 1, 1)  # noqa: DTZ001 - a naive UTC wall time
        offset = since.replace(tzinfo=UTC).astimezone(tz).utcoffset()
        # Belt and braces: the footer's offset holds at the far end too.
        if offset is None or _FIXED_UNTIL.replace(tzinfo=tz).utcoffset() != offset:
            return None
        local = since + offset
    except Exception:  # any failure only means "not proved"
        return None
    return local if local < _FIXED_UNTIL else None


class _Zone:
    """A zone by name: the (cached) ``ZoneInfo`` and where it provably has a fixed offset.

    ``fixed_from``/``fixed_until`` are aware datetimes in the zone. Aware datetimes sharing a
    tzinfo compare and subtract by wall time, without consulting the zone: inside that range
    this is exact and avoids ``astimezone``/``replace`` (each ~0.5-2 µs here).
    """

    __slots__ = ("fixed_from", "fixed_until", "tz")

    def __init__(self, name: str) -> None:
        tz = self.tz = ZoneInfo(name)
        since = _fixed_since(tz)
        self.fixed_from = None if since is None else since.replace(tzinfo=tz)
        self.fixed_until = _FIXED_UNTIL.replace(tzinfo=tz)

    def wall_add(self, start: datetime, delta: timedelta) -> datetime:
        """``start + delta`` in absolute time, as an aware datetime in this zone."""
        since, tz = self.fixed_from, self.tz
        if since is not None:
            try:
                local = start.astimezone(tz)
                end = local + delta  # wall-time arithmetic: exact at a fixed offset
            except OverflowError:
                pass
            else:
                until = self.fixed_until
                if since <= local <= until and since <= end <= until:
                    return end
        return (start.astimezone(UTC) + delta).astimezone(tz)

    def linear(self, start: datetime, end: datetime, fraction: float) -> datetime | None:
        """``point`` of a 24x7 calendar, when both ends lie in the fixed-offset range."""
        since, tz = self.fixed_from, self.tz
        if since is None:
            return None
        lo, hi = start.astimezone(tz), end.astimezone(tz)
        until = self.fixed_until
        if not (since <= lo <= until and since <= hi <= until):
            return None
        if hi < lo:
            raise ValueError("end must not be before start")
        if lo.fold:
            lo = lo.replace(fold=0)
        if hi.fold:
            hi = hi.replace(fold=0)
        return min(max(lo + (hi - lo) * fraction, lo), hi)


@lru_cache(maxsize=64)
def _zone(name: str) -> _Zone:
    return _Zone(name)


class _Index:
    """Every working interval of a date range laid end to end, with running totals.

    Instants are "keys": aware datetimes in the calendar's zone when the zone has a fixed offset
    over the whole range (``fixed``: keys compare and subtract by wall time, no conversion in or
    out), else in UTC (converted through the zone, exactly as the reference does).
    ``starts[i]``/``ends[i]`` is the i-th working interval, in the very order the reference
    loops visit them (date by date, then by ``hours``); ``total[i]`` the working time of
    intervals ``0..i-1`` (n + 1 entries); ``day[i]`` the ordinal of the local date interval i
    belongs to; ``first[k]`` the index of the first interval of date ``base + k`` (ndays + 1
    entries); ``workdays`` the ordinals of the working dates. The build checks the intervals
    are sorted and disjoint (``ends[i] <= starts[i + 1]``): that makes a bisection equal to the
    loops' walk. Operations return None when the answer is not inside the range; the caller
    then runs the reference loop.
    """

    __slots__ = (
        "base",
        "day",
        "ends",
        "first",
        "fixed",
        "n",
        "ndays",
        "starts",
        "total",
        "tz",
        "workdays",
    )

    def __init__(self, cal: WorkingCalendar, zone: _Zone, first_day: date, last_day: date):
        tz = self.tz = zone.tz
        since = zone.fixed_from
        self.fixed = fixed = (
            since is not None
            and since <= datetime.combine(first_day, time(), tzinfo=tz)
            and datetime.combine(last_day + _ONE_DAY, time(), tzinfo=tz) <= zone.fixed_until
        )
        self.base = base = first_day.toordinal()
        self.ndays = ndays = last_day.toordinal() - base + 1
        starts: list[datetime] = []
        ends: list[datetime] = []
        day_of: list[int] = []
        first: list[int] = []
        workdays: list[int] = []
        is_working, hours = cal.is_working_day, cal.hours
        if fixed:  # no fold to carry into wall-time keys (it means nothing at a fixed offset)
            hours = tuple((a.replace(fold=0), b.replace(fold=0)) for a, b in hours)
        for ordinal in range(base, base + ndays):
            first.append(len(starts))
            day = date.fromordinal(ordinal)
            if not is_working(day):
                continue
            workdays.append(ordinal)
            for begin, end in hours:
                a = datetime.combine(day, begin, tzinfo=tz)
                b = datetime.combine(day, end, tzinfo=tz)
                if not fixed:  # exactly the reference's instants (``_IntervalTable``)
                    a, b = a.astimezone(UTC), b.astimezone(UTC)
                if a < b:
                    starts.append(a)
                    ends.append(b)
                    day_of.append(ordinal)
        first.append(len(starts))
        if any(ends[i] > starts[i + 1] for i in range(len(starts) - 1)):
            raise _Unsorted
        total = [_ZERO]
        running = _ZERO
        for a, b in zip(starts, ends, strict=True):
            running += b - a
            total.append(running)
        self.starts, self.ends, self.total, self.day = starts, ends, total, day_of
        self.first, self.workdays, self.n = first, workdays, len(starts)

    def _key(self, moment: datetime) -> tuple[datetime, int]:
        """The key of ``moment`` and the ordinal of its local date."""
        if self.fixed:
            key = moment.astimezone(self.tz)
            if key.fold:
                key = key.replace(fold=0)
            return key, key.toordinal()
        key = moment.astimezone(UTC)
        if key.fold:
            key = key.replace(fold=0)
        # (from the UTC instant, as the reference does: a wall time in a DST gap given in the
        # zone itself is not normalised by ``astimezone`` into the same zone)
        return key, key.astimezone(self.tz).toordinal()

    def _out(self, key: datetime) -> datetime:
        return key if self.fixed else key.astimezone(self.tz)

    # -- the reference loops, as bisections ------------------------------------------------

    def _consume(self, key: datetime, d0: int, amount: timedelta) -> datetime | None:
        """``_slow_consume``: ``key`` plus ``amount`` of working time, from local date
        ``d0`` (inside the range)."""
        if amount <= _ZERO:
            return key
        off, first, n = d0 - self.base, self.first, self.n
        # The loops skip exactly the intervals with ``end <= key``. At a fixed offset all
        # intervals of later dates lie after ``key``: search one date only.
        i = bisect_right(self.ends, key, first[off], first[off + 1] if self.fixed else n)
        if i >= n:
            return None
        a, total = self.starts[i], self.total
        target = (total[i] + (key - a) if key > a else total[i]) + amount
        # The first interval whose running total reaches the target (an exact fill ends
        # there); most limits end within a few intervals, so look there first.
        near = i + 8
        if near <= n and total[near] >= target:
            j = bisect_left(total, target, i + 1, near) - 1
        else:
            j = bisect_left(total, target, i + 1) - 1
            if j >= n:
                return None
        if self.day[j] - d0 >= _MAX_DAYS:
            return None
        return self.starts[j] + (target - total[j])

    def _between(self, lo: datetime, d_lo: int, hi: datetime, d_hi: int) -> timedelta:
        """``_slow_working_between``: working time in ``[lo, hi)`` over local dates d_lo..d_hi."""
        if hi <= lo:
            return _ZERO
        s, e = self.first[d_lo - self.base], self.first[d_hi - self.base + 1]
        i = bisect_right(self.ends, lo, s, e)  # first interval not over at lo
        k = bisect_left(self.starts, hi, i, e)  # first interval not begun by hi
        if i >= k:
            return _ZERO
        found = self.total[k] - self.total[i]
        a, b = self.starts[i], self.ends[k - 1]
        if lo > a:
            found -= lo - a
        if b > hi:
            found -= b - hi
        return found

    # -- operations (None: not inside the index, use the reference) -----------------------

    # ``_key`` is inlined for the fixed case below: a call costs as much as the conversion.

    def add_time(self, start: datetime, amount: timedelta) -> datetime | None:
        if self.fixed:
            key = start.astimezone(self.tz)
            if key.fold:
                key = key.replace(fold=0)
            d0 = key.toordinal()
        else:
            key, d0 = self._key(start)
        if not 0 <= d0 - self.base < self.ndays:
            return None
        found = self._consume(key, d0, amount)
        if found is None:
            return None
        return found if self.fixed else found.astimezone(self.tz)

    def add_days(self, start: datetime, count: int) -> datetime | None:
        if self.fixed:
            key = start.astimezone(self.tz)
            if key.fold:
                key = key.replace(fold=0)
            d0 = key.toordinal()
        else:
            key, d0 = self._key(start)
        off, n = d0 - self.base, self.n
        if not 0 <= off < self.ndays:
            return None
        # ``_slow_locate``: the first interval not over at ``key`` (as in ``_consume``)
        i = bisect_right(self.ends, key, self.first[off], self.first[off + 1] if self.fixed else n)
        if i >= n or self.day[i] - d0 >= _MAX_DAYS:
            return None
        located = max(self.starts[i], key)
        local = located if self.fixed else located.astimezone(self.tz)
        day = local.toordinal()
        if count:
            workdays = self.workdays
            k = bisect_right(workdays, day) + count - 1
            if day < self.base or k >= len(workdays):
                return None
            target = workdays[k]
            if target - day > _MAX_DAYS:
                return None
        else:
            target = day
        if self.fixed:  # the same wall time, ``target - day`` dates later
            return located + _ONE_DAY * (target - day)
        due = datetime.combine(date.fromordinal(target), local.time(), tzinfo=self.tz)
        return due.astimezone(UTC).astimezone(self.tz)

    def point(self, start: datetime, end: datetime, fraction: float) -> datetime | None:
        if self.fixed:
            lo, hi = start.astimezone(self.tz), end.astimezone(self.tz)
            if lo.fold:
                lo = lo.replace(fold=0)
            if hi.fold:
                hi = hi.replace(fold=0)
            d_lo, d_hi = lo.toordinal(), hi.toordinal()
        else:
            (lo, d_lo), (hi, d_hi) = self._key(start), self._key(end)
        base, ndays = self.base, self.ndays
        if not (0 <= d_lo - base < ndays and 0 <= d_hi - base < ndays):
            return None  # (outside the range, wall-time keys need not order like instants)
        if hi < lo:
            raise ValueError("end must not be before start")
        # ``_between`` and ``_consume`` fused: the interval not over at ``lo`` serves both.
        first, starts, total = self.first, self.starts, self.total
        e = first[d_hi - base + 1]
        i = bisect_right(self.ends, lo, first[d_lo - base], e)
        k = bisect_left(starts, hi, i, e)
        if i < k:
            a, b = starts[i], self.ends[k - 1]
            before = total[i] + (lo - a) if lo > a else total[i]  # working time up to lo
            after = total[k] - (b - hi) if b > hi else total[k]  # ... and up to hi
            working = after - before
        else:
            working = _ZERO
        if working <= _ZERO:  # no working time in between: linear in wall time
            return self._out(min(max(lo + (hi - lo) * fraction, lo), hi))
        amount = working * fraction
        if amount <= _ZERO:
            return self._out(lo)
        target = before + amount  # <= after: the interval lies in i..k-1
        j = bisect_left(total, target, i + 1, k + 1) - 1
        if self.day[j] - d_lo >= _MAX_DAYS:
            return None
        return self._out(min(max(starts[j] + (target - total[j]), lo), hi))

    def seconds_between(self, start: datetime, end: datetime) -> float | None:
        lo, d_lo = self._key(start)
        hi, d_hi = self._key(end)
        base, ndays = self.base, self.ndays
        if not (0 <= d_lo - base < ndays and 0 <= d_hi - base < ndays):
            return None
        return self._between(lo, d_lo, hi, d_hi).total_seconds()


class _Unsorted(Exception):
    """Working intervals out of order (a pathological zone): no index, reference loops only."""


_UNBUILT = object()
_indexes: dict[tuple[object, ...], _Index | None] = {}


def _index_range(cal: WorkingCalendar) -> tuple[date, date]:
    """A year before the calendar's data to five years past it (or past this year), within
    forty years of now: beyond, the reference loops answer."""
    now = datetime.now(UTC).year
    years = [now]
    if cal.known_until is not None:
        years.append(cal.known_until.year)
    for days in (cal.holidays, cal.workdays):
        if days:
            years += [min(days).year, max(days).year]
    first = max(min(years) - 1, now - 40, 1)
    last = min(max(years) + 5, now + 40, 8999)
    return date(first, 1, 1), date(last, 12, 31)


def _index_of(cal: WorkingCalendar) -> _Index | None:
    """The index for ``cal``'s day tables, shared by equal tables (rule files rebuild calendars)."""
    first, last = _index_range(cal)
    key = (cal.timezone, cal.hours, cal.weekend, cal.holidays, cal.workdays, first, last)
    found = _indexes.get(key, _UNBUILT)
    if found is _UNBUILT:
        try:
            found = _Index(cal, _zone(cal.timezone), first, last)
        except _Unsorted:
            found = None
        if len(_indexes) >= 16:
            _indexes.clear()
        _indexes[key] = found
    return found  # type: ignore[return-value]


class _Plan:
    """What one calendar instance has computed: its zone and, once needed, its index."""

    __slots__ = ("index", "zone")

    def __init__(self, zone: _Zone) -> None:
        self.zone = zone
        self.index: object = _UNBUILT

    def index_of(self, cal: WorkingCalendar) -> _Index | None:
        found = self.index
        if found is _UNBUILT:
            found = self.index = _index_of(cal)
        return found  # type: ignore[return-value]


# Per-instance state lives here, not on the frozen model: keyed by id(), checked and dropped
# through a weak reference, so equality, hashing, copies (``model_copy``, ``fast.replace``)
# and serialisation never see it, and a copy with other fields never inherits a stale index.
_plans: dict[int, tuple[weakref.ref[WorkingCalendar], _Plan]] = {}


def _forget(key: int, ref: weakref.ref[WorkingCalendar]) -> None:
    entry = _plans.get(key)
    if entry is not None and entry[0] is ref:
        _plans.pop(key, None)


def _plan(cal: WorkingCalendar) -> _Plan:
    entry = _plans.get(id(cal))
    if entry is not None and entry[0]() is cal:
        return entry[1]
    plan = _Plan(_zone(cal.timezone))
    key = id(cal)
    _plans[key] = (weakref.ref(cal, partial(_forget, key)), plan)
    return plan


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

    # -- reference implementation: the day-by-day loops (all instants in UTC) --------------
    # The fast path above must agree with these exactly (tests/test_calendar.py checks it on
    # generated inputs); they also answer whatever lies outside the index.

    def _slow_add(self, start: datetime, limit: Limit) -> datetime:
        _require_aware(start, "start")
        tz = self._zone()
        begin = start.astimezone(UTC)
        if not limit.working or self.always:
            return (begin + timedelta(seconds=limit.seconds)).astimezone(tz)
        if limit.amount < 0:
            raise ValueError(f"a working-time limit cannot be negative: {limit}")
        if limit.unit == "days":
            return self._slow_add_days(begin, limit.amount)
        return self._slow_consume(begin, timedelta(seconds=limit.seconds)).astimezone(tz)

    def _slow_point(self, start: datetime, end: datetime, fraction: float) -> datetime:
        _require_aware(start, "start")
        _require_aware(end, "end")
        if math.isnan(fraction) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within 0..1, got {fraction}")
        tz = self._zone()
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        if hi < lo:
            raise ValueError("end must not be before start")
        working = timedelta(0) if self.always else self._slow_working_between(lo, hi)
        if working <= timedelta(0):
            result = lo + (hi - lo) * fraction
        else:
            result = self._slow_consume(lo, working * fraction)
        return min(max(result, lo), hi).astimezone(tz)

    def _slow_working_seconds_between(self, start: datetime, end: datetime) -> float:
        _require_aware(start, "start")
        _require_aware(end, "end")
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        if self.always:
            return max(hi - lo, timedelta(0)).total_seconds()
        return self._slow_working_between(lo, hi).total_seconds()

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

    def _slow_consume(self, start: datetime, amount: timedelta) -> datetime:
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

    def _slow_locate(self, moment: datetime) -> datetime:
        """``moment`` if inside working time (half-open intervals), else the next opening."""
        day, intervals = self._local_date(moment), self._intervals()
        for _ in range(_MAX_DAYS):
            for a, b in intervals(day):
                if moment < b:
                    return max(a, moment)
            day += _ONE_DAY
        raise ValueError(f"no working time within {_MAX_DAYS} days of {moment.isoformat()}")

    def _slow_add_days(self, start: datetime, count: int) -> datetime:
        tz = self._zone()
        local = self._slow_locate(start).astimezone(tz)
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

    def _slow_working_between(self, start: datetime, end: datetime) -> timedelta:
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
