"""Where a time zone provably keeps one UTC offset, and wall-time arithmetic inside that range.

Part of the fast path of ``engine.domain.calendar``: when the zone's own TZif data prove a fixed
UTC offset (Asia/Shanghai since 1991), datetimes in the zone itself compare and subtract by wall
time with no conversion in or out, so wall limits, 24x7 calendars and the working-interval index
(``index``) skip ``astimezone``. Otherwise everything converts through the zone, as the
reference loops (``reference``) do.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from engine.domain.calendar.common import ONE_DAY

# A POSIX TZ footer with a standard time only (``CST-8``, ``<+08>-8``): no daylight saving rule.
_STANDARD_ONLY = re.compile(r"(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]+>)[+-]?\d{1,2}(?::\d{2}){0,2}")
# Wall times, naive here; ``Zone`` attaches the zone.
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
            since = _UNIX_EPOCH + timedelta(seconds=max(transitions)) + 2 * ONE_DAY
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


class Zone:
    """A zone by name: the (cached) ``ZoneInfo`` and where it provably has a fixed offset.

    ``fixed_from``/``fixed_until`` are aware datetimes in the zone. Aware datetimes sharing a
    tzinfo compare and subtract by wall time, without consulting the zone: inside that range
    this is exact and avoids ``astimezone``/``replace`` (each ~0.5-2 µs here).
    """

    __slots__ = ("fixed_from", "fixed_until", "offset", "safe_from", "safe_until", "tz")

    def __init__(self, name: str) -> None:
        tz = self.tz = ZoneInfo(name)
        since = _fixed_since(tz)
        self.fixed_from = None if since is None else since.replace(tzinfo=tz)
        self.fixed_until = _FIXED_UNTIL.replace(tzinfo=tz)
        # The UTC instants where the fixed offset holds, two days inside the fixed range on
        # either side: a UTC instant there has the wall time ``instant + offset`` in the zone,
        # so the core's UTC arithmetic needs no conversion (``wall_add_utc``, ``linear_utc``).
        self.offset: timedelta | None = None
        self.safe_from = datetime.max.replace(tzinfo=UTC)  # an empty range: not fixed
        self.safe_until = datetime.min.replace(tzinfo=UTC)
        if self.fixed_from is not None:
            self.offset = self.fixed_from.utcoffset()
            self.safe_from = self.fixed_from.astimezone(UTC) + 2 * ONE_DAY
            self.safe_until = self.fixed_until.astimezone(UTC) - 2 * ONE_DAY

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

    def wall_add_utc(self, start: datetime, delta: timedelta) -> datetime | None:
        """``wall_add`` for a UTC ``start``, answered in UTC (the same instant), when start and
        end lie where the offset is fixed (``wall_add`` then takes its fixed branch, whose
        answer is exactly ``start + delta``); None otherwise."""
        lo, hi = self.safe_from, self.safe_until
        if lo <= start <= hi:
            try:
                end = start + delta
            except OverflowError:
                return None
            if lo <= end <= hi:
                return end
        return None

    def linear_utc(self, start: datetime, end: datetime, fraction: float) -> datetime | None:
        """``linear`` for UTC ``start``/``end``, answered in UTC, inside the fixed range (where
        wall times and instants differ by the one offset); None otherwise or if end < start."""
        lo, hi = self.safe_from, self.safe_until
        if not (lo <= start <= hi and lo <= end <= hi) or end < start:
            return None
        return min(max(start + (end - start) * fraction, start), end)

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
def zone_for(name: str) -> Zone:
    return Zone(name)
