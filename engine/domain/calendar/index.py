"""The precomputed working-interval index: the fast path of working-time arithmetic.

A decision calls ``add``/``point`` several times and must cost about 10 µs in all, so the
day-by-day loops (``reference``, kept as the reference the tests compare against) are
only the fallback. Each calendar lazily builds an ``_Index``: every working interval from a year
before its holiday data to five years past it (or past today), laid end to end with running
totals, so ``N working hours`` is two bisections and ``N working days`` one bisection over the
working dates. When the zone provably has a fixed UTC offset over that range (``zone``),
the index holds datetimes in the zone itself, which compare and subtract by wall time with no
conversion in or out; otherwise it holds UTC instants and converts through the zone, as the
loops do. Wall limits and 24x7 calendars never build an index. Whatever falls outside the
indexed range takes the reference loops.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING

from engine.domain.calendar.common import MAX_DAYS, ONE_DAY, ZERO
from engine.domain.calendar.zone import Zone, zone_for

if TYPE_CHECKING:
    from engine.domain.calendar.model import WorkingCalendar


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
        "utc",
        "workdays",
    )

    def __init__(self, cal: WorkingCalendar, zone: Zone, first_day: date, last_day: date):
        tz = self.tz = zone.tz
        since = zone.fixed_from
        self.fixed = fixed = (
            since is not None
            and since <= datetime.combine(first_day, time(), tzinfo=tz)
            and datetime.combine(last_day + ONE_DAY, time(), tzinfo=tz) <= zone.fixed_until
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
        total = [ZERO]
        running = ZERO
        for a, b in zip(starts, ends, strict=True):
            running += b - a
            total.append(running)
        self.starts, self.ends, self.total, self.day = starts, ends, total, day_of
        self.first, self.workdays, self.n = first, workdays, len(starts)
        self.utc: object = _UNBUILT  # UtcIndex or None once built

    def utc_index(self, zone: Zone) -> UtcIndex | None:
        """The same index keyed by UTC instants (built once, on first use), when it is keyed by
        wall time at a fixed offset (``fixed``); else None."""
        found = self.utc
        if found is _UNBUILT:
            found = self.utc = UtcIndex(self, zone) if self.fixed else None
        return found  # type: ignore[return-value]

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

    def _between(self, lo: datetime, d_lo: int, hi: datetime, d_hi: int) -> timedelta:
        """``_slow_working_between``: working time in ``[lo, hi)`` over local dates d_lo..d_hi."""
        if hi <= lo:
            return ZERO
        s, e = self.first[d_lo - self.base], self.first[d_hi - self.base + 1]
        i = bisect_right(self.ends, lo, s, e)  # first interval not over at lo
        k = bisect_left(self.starts, hi, i, e)  # first interval not begun by hi
        if i >= k:
            return ZERO
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
        found = _consume(self, key, d0, amount)
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
        if i >= n or self.day[i] - d0 >= MAX_DAYS:
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
            if target - day > MAX_DAYS:
                return None
        else:
            target = day
        if self.fixed:  # the same wall time, ``target - day`` dates later
            return located + ONE_DAY * (target - day)
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
            working = ZERO
        if working <= ZERO:  # no working time in between: linear in wall time
            return self._out(min(max(lo + (hi - lo) * fraction, lo), hi))
        amount = working * fraction
        if amount <= ZERO:
            return self._out(lo)
        target = before + amount  # <= after: the interval lies in i..k-1
        j = bisect_left(total, target, i + 1, k + 1) - 1
        if self.day[j] - d_lo >= MAX_DAYS:
            return None
        return self._out(min(max(starts[j] + (target - total[j]), lo), hi))

    def seconds_between(self, start: datetime, end: datetime) -> float | None:
        lo, d_lo = self._key(start)
        hi, d_hi = self._key(end)
        base, ndays = self.base, self.ndays
        if not (0 <= d_lo - base < ndays and 0 <= d_hi - base < ndays):
            return None
        return self._between(lo, d_lo, hi, d_hi).total_seconds()


def _consume(ix: _Index | UtcIndex, key: datetime, d0: int, amount: timedelta
             ) -> datetime | None:
    """(Shared by both index classes, a function so a compiled build can share it.)
    ``_slow_consume``: ``key`` plus ``amount`` of working time, from local date
    ``d0`` (inside the range)."""
    if amount <= ZERO:
        return key
    off, first, n = d0 - ix.base, ix.first, ix.n
    # The loops skip exactly the intervals with ``end <= key``. At a fixed offset all
    # intervals of later dates lie after ``key``: search one date only.
    i = bisect_right(ix.ends, key, first[off], first[off + 1] if ix.fixed else n)
    if i >= n:
        return None
    a, total = ix.starts[i], ix.total
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
    if ix.day[j] - d0 >= MAX_DAYS:
        return None
    return ix.starts[j] + (target - total[j])


_DAYS = [ONE_DAY * k for k in range(512)]  # ``ONE_DAY * k`` made once, not per deadline


class UtcIndex:
    """A fixed-offset ``_Index`` with its interval ends as UTC instants, for the core's UTC
    arithmetic (``WorkingCalendar.add_utc``/``point_utc``): at a fixed offset a wall-time key
    and its UTC instant order and subtract alike, so every bisection and running total is the
    index's own and the answers are the index's answers as UTC instants, with no conversion
    into the zone and back. It answers only for instants from the second to the last but one
    date of the range (None elsewhere: the caller takes the general path), where the local
    date of an instant is the date of ``instant + offset``.
    """

    __slots__ = ("base", "day", "ends", "first", "hi", "lo", "n", "offset", "starts", "total",
                 "workdays")

    def __init__(self, index: _Index, zone: Zone) -> None:
        assert index.fixed and zone.offset is not None
        self.offset = offset = zone.offset
        self.starts = [a.astimezone(UTC) for a in index.starts]
        self.ends = [b.astimezone(UTC) for b in index.ends]
        self.total, self.day, self.first = index.total, index.day, index.first
        self.workdays, self.n, self.base = index.workdays, index.n, index.base
        midnight = time()
        self.lo = datetime.combine(date.fromordinal(index.base + 1), midnight, tzinfo=UTC) - offset
        self.hi = datetime.combine(
            date.fromordinal(index.base + index.ndays - 1), midnight, tzinfo=UTC) - offset

    fixed = True  # for the consume loop the two classes share

    def add_time(self, start: datetime, amount: timedelta) -> datetime | None:
        if not self.lo <= start < self.hi:
            return None
        return _consume(self, start, (start + self.offset).toordinal(), amount)

    def add_days(self, start: datetime, count: int) -> datetime | None:
        """``_Index.add_days`` (fixed), in UTC."""
        if not self.lo <= start < self.hi:
            return None
        offset = self.offset
        d0 = (start + offset).toordinal()
        off, n = d0 - self.base, self.n
        i = bisect_right(self.ends, start, self.first[off], self.first[off + 1])
        if i >= n or self.day[i] - d0 >= MAX_DAYS:
            return None
        located = max(self.starts[i], start)
        day = (located + offset).toordinal()
        if count:
            workdays = self.workdays
            k = bisect_right(workdays, day) + count - 1
            if day < self.base or k >= len(workdays):
                return None
            target = workdays[k]
            if target - day > MAX_DAYS:
                return None
        else:
            target = day
        days = target - day
        return located + (_DAYS[days] if 0 <= days < len(_DAYS) else ONE_DAY * days)

    def point(self, start: datetime, end: datetime, fraction: float) -> datetime | None:
        """``_Index.point`` (fixed), in UTC; None also when end < start (the general path
        raises)."""
        lo_ok, hi_ok = self.lo, self.hi
        if not (lo_ok <= start < hi_ok and lo_ok <= end < hi_ok) or end < start:
            return None
        lo, hi, offset, base = start, end, self.offset, self.base
        d_lo, d_hi = (lo + offset).toordinal(), (hi + offset).toordinal()
        first, starts, total = self.first, self.starts, self.total
        e = first[d_hi - base + 1]
        i = bisect_right(self.ends, lo, first[d_lo - base], e)
        k = bisect_left(starts, hi, i, e)
        if i < k:
            a, b = starts[i], self.ends[k - 1]
            before = total[i] + (lo - a) if lo > a else total[i]
            after = total[k] - (b - hi) if b > hi else total[k]
            working = after - before
        else:
            working = ZERO
        if working <= ZERO:
            return min(max(lo + (hi - lo) * fraction, lo), hi)
        amount = working * fraction
        if amount <= ZERO:
            return lo
        target = before + amount
        j = bisect_left(total, target, i + 1, k + 1) - 1
        if self.day[j] - d_lo >= MAX_DAYS:
            return None
        return min(max(starts[j] + (target - total[j]), lo), hi)


class _Unsorted(Exception):
    """Working intervals out of order (a pathological zone): no index, reference loops only."""


_UNBUILT = object()
_YEARS_WITHOUT_TABLES = (2020, 2045)  # weekends-only calendars: the years the index covers
_indexes: dict[tuple[object, ...], _Index | None] = {}


def _index_range(cal: WorkingCalendar) -> tuple[date, date]:
    """A year before the calendar's day tables to five years past them; for a calendar without
    tables, ``_YEARS_WITHOUT_TABLES``. Beyond, the reference loops answer (same results, slower).
    Derived from the data only: the core reads no wall clock."""
    years = [cal.known_until.year] if cal.known_until is not None else []
    for days in (cal.holidays, cal.workdays):
        if days:
            years += [min(days).year, max(days).year]
    if not years:
        return date(_YEARS_WITHOUT_TABLES[0], 1, 1), date(_YEARS_WITHOUT_TABLES[1], 12, 31)
    first = max(min(years) - 1, 1)
    last = min(max(years) + 5, 8999)
    return date(first, 1, 1), date(last, 12, 31)


def _index_of(cal: WorkingCalendar) -> _Index | None:
    """The index for ``cal``'s day tables, shared by equal tables (rule files rebuild calendars)."""
    first, last = _index_range(cal)
    key = (cal.timezone, cal.hours, cal.weekend, cal.holidays, cal.workdays, first, last)
    found = _indexes.get(key, _UNBUILT)
    if found is _UNBUILT:
        try:
            found = _Index(cal, zone_for(cal.timezone), first, last)
        except _Unsorted:
            found = None
        if len(_indexes) >= 16:
            _indexes.clear()
        _indexes[key] = found
    return found  # type: ignore[return-value]


class _Plan:
    """What one calendar instance has computed: its zone and, once needed, its index."""

    __slots__ = ("index", "utc", "zone")

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.index: object = _UNBUILT
        self.utc: object = None  # the calendar's ``UtcArithmetic``, once asked for

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


def plan_of(cal: WorkingCalendar) -> _Plan:
    entry = _plans.get(id(cal))
    if entry is not None and entry[0]() is cal:
        return entry[1]
    plan = _Plan(zone_for(cal.timezone))
    key = id(cal)
    _plans[key] = (weakref.ref(cal, partial(_forget, key)), plan)
    return plan
