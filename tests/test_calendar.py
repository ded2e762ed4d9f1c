"""Working-time arithmetic: wall limits, working hours/days over China's 2026 tables, point()."""

from __future__ import annotations

import gc
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import chinese_calendar.constants as cc_constants
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.domain.calendar import Limit, Unit, WorkingCalendar, always_calendar
from engine.domain.calendar.index import _UNBUILT, _index_range, _plans, plan_of
from engine.domain.calendar.zone import zone_for
from engine.rules.calendars import china_calendar, known_data_until

SH = ZoneInfo("Asia/Shanghai")
CN = china_calendar()
CST = timezone(timedelta(hours=8))


def at(text: str) -> datetime:
    """``2026-09-30 16:30`` in Shanghai local time."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def wall(amount: int, unit: Unit) -> Limit:
    return Limit(amount=amount, unit=unit)


def working(amount: int, unit: Unit) -> Limit:
    return Limit(amount=amount, unit=unit, working=True)


# -- wall limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "limit", "expected"),
    [
        ("2026-03-02 10:00", wall(30, "minutes"), "2026-03-02 10:30"),
        ("2026-03-06 22:00", wall(4, "hours"), "2026-03-07 02:00"),  # Friday night, no hours
        ("2026-09-30 10:00", wall(7, "days"), "2026-10-07 10:00"),  # holidays don't matter
    ],
)
@pytest.mark.parametrize("calendar", [CN, always_calendar()], ids=["china", "24x7"])
def test_wall_limits(calendar: WorkingCalendar, start: str, limit: Limit, expected: str) -> None:
    result = calendar.add(at(start), limit)
    assert result == at(expected)
    assert result.tzinfo == SH


def test_input_in_another_offset_gives_the_same_instant() -> None:
    start_utc = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    result = CN.add(start_utc, wall(4, "hours"))
    assert result == at("2026-03-02 14:00")
    assert result.tzinfo == SH and result.hour == 14
    assert CN.add(start_utc, working(2, "hours")) == CN.add(
        at("2026-03-02 10:00"), working(2, "hours")
    )


def test_always_calendar_counts_working_time_as_wall_time() -> None:
    cal = always_calendar()
    assert cal.name == "24x7" and cal.always
    assert cal.add(at("2026-10-01 10:00"), working(2, "hours")) == at("2026-10-01 12:00")
    assert cal.add(at("2026-10-01 10:00"), working(1, "days")) == at("2026-10-02 10:00")


# -- working hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "limit", "expected"),
    [
        # within a day (Monday 2026-03-02; hours 09:00-12:00, 13:30-17:30)
        ("2026-03-02 09:30", working(2, "hours"), "2026-03-02 11:30"),
        ("2026-03-02 10:00", working(2, "hours"), "2026-03-02 12:00"),  # exact fill: interval end
        ("2026-03-02 09:00", working(7, "hours"), "2026-03-02 17:30"),
        ("2026-03-02 09:00", working(14, "hours"), "2026-03-03 17:30"),
        # across lunch
        ("2026-03-02 10:00", working(3, "hours"), "2026-03-02 14:30"),
        ("2026-03-02 11:30", working(60, "minutes"), "2026-03-02 14:00"),
        ("2026-03-02 11:59", working(90, "seconds"), "2026-03-02 13:30:30"),
        ("2026-03-02 12:30", working(1, "hours"), "2026-03-02 14:30"),  # starts in lunch
        # outside hours
        ("2026-03-02 08:00", working(30, "minutes"), "2026-03-02 09:30"),
        ("2026-03-02 18:00", working(1, "hours"), "2026-03-03 10:00"),
        # across a weekend
        ("2026-03-06 16:30", working(2, "hours"), "2026-03-09 10:00"),  # Fri 1h + Mon 1h
        ("2026-03-07 10:00", working(1, "hours"), "2026-03-09 10:00"),  # starts on Saturday
        # across 2026 National Day (Oct 1-7 holiday; Sat Oct 10 a make-up working day)
        ("2026-09-30 16:30", working(2, "hours"), "2026-10-08 10:00"),
        ("2026-10-09 17:00", working(1, "hours"), "2026-10-10 09:30"),  # into make-up Saturday
        # Mid-Autumn (Fri-Sun Sep 25-27 holiday): Thu 17:00 + 1h -> 30m Thu + 30m Mon Sep 28
        ("2026-09-24 17:00", working(1, "hours"), "2026-09-28 09:30"),
        ("2026-03-02 10:00", working(0, "hours"), "2026-03-02 10:00"),
    ],
)
def test_working_hours(start: str, limit: Limit, expected: str) -> None:
    result = CN.add(at(start), limit)
    assert result == at(expected)
    assert result.tzinfo == SH


# -- working days --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-03-06 16:00", 1, "2026-03-09 16:00"),  # Friday -> Monday, same time of day
        ("2026-03-02 10:00", 5, "2026-03-09 10:00"),
        # Sep 19 Sat off, Sep 20 Sun make-up day 1, Mon 21 day 2, Tue 22 day 3
        ("2026-09-18 16:00", 3, "2026-09-22 16:00"),
        ("2026-09-24 10:00", 1, "2026-09-28 10:00"),  # Sep 25-27 holiday
        ("2026-09-30 10:00", 1, "2026-10-08 10:00"),  # Oct 1-7 holiday
        ("2026-10-09 10:00", 1, "2026-10-10 10:00"),  # Saturday make-up working day
        # Spring Festival: Sat Feb 14 make-up is day 1, Feb 15-23 holiday, Tue Feb 24 day 2
        ("2026-02-13 10:00", 2, "2026-02-24 10:00"),
        # outside working time: move to the next opening first
        ("2026-03-02 18:00", 1, "2026-03-04 09:00"),  # -> Tue 09:00 -> Wed 09:00
        ("2026-03-02 17:30", 1, "2026-03-04 09:00"),  # 17:30 is closing time: outside
        ("2026-03-02 12:30", 1, "2026-03-03 13:30"),  # lunch -> 13:30
        ("2026-03-07 10:00", 2, "2026-03-11 09:00"),  # Saturday -> Mon 09:00 -> Wed
        ("2026-03-07 10:00", 0, "2026-03-09 09:00"),
    ],
)
def test_working_days(start: str, days: int, expected: str) -> None:
    assert CN.add(at(start), working(days, "days")) == at(expected)


def test_sixty_working_days_is_fast() -> None:
    start = at("2026-01-05 10:00")
    for limit in (working(60, "days"), working(60 * 7, "hours")):
        CN.add(start, limit)  # warm caches
        best = float("inf")
        for _ in range(5):  # best of five batches: robust against a noisy machine
            began = clock.perf_counter()
            for _ in range(20):
                CN.add(start, limit)
            best = min(best, (clock.perf_counter() - began) / 20)
        assert best < 1e-3, f"{limit}: {best * 1e6:.0f} µs per add"


# -- errors ----------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 3, 2, 10, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        CN.add(naive, working(1, "hours"))
    with pytest.raises(ValueError, match="timezone-aware"):
        CN.point(naive, at("2026-03-02 12:00"), 0.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        CN.beyond_known(naive)


def test_no_working_day_ever_fails_loudly() -> None:
    never = WorkingCalendar(name="never", weekend=frozenset(range(7)))
    with pytest.raises(ValueError, match="within"):
        never.add(at("2026-03-02 10:00"), working(1, "hours"))
    with pytest.raises(ValueError, match="within"):
        never.add(at("2026-03-02 10:00"), working(1, "days"))


def test_negative_working_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        CN.add(at("2026-03-02 10:00"), working(-1, "hours"))


@pytest.mark.parametrize(
    "fields",
    [
        {"hours": ((time(12), time(9)),)},
        {"hours": ((time(9), time(12)), (time(11), time(14)))},
        {"timezone": "Mars/Olympus"},
        {"weekend": frozenset({7})},
        {"hours": ()},
    ],
)
def test_invalid_calendars(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WorkingCalendar.model_validate({"name": "bad", **fields})


# -- point() ---------------------------------------------------------------------------------


def test_point_of_a_wall_limit_is_linear() -> None:
    start = at("2026-03-02 10:00")
    end = always_calendar().add(start, wall(4, "hours"))
    assert always_calendar().point(start, end, 0.8) == at("2026-03-02 13:12")


@pytest.mark.parametrize(
    ("start", "end", "fraction", "expected"),
    [
        # Mon 16:30 -> Tue 10:30 holds 1h + 1.5h = 150 working minutes; 80% = 120 minutes
        ("2026-03-02 16:30", "2026-03-03 10:30", 0.8, "2026-03-03 10:00"),
        ("2026-03-02 16:30", "2026-03-03 10:30", 0.0, "2026-03-02 16:30"),
        ("2026-03-02 16:30", "2026-03-03 10:30", 1.0, "2026-03-03 10:30"),
        ("2026-03-02 10:00", "2026-03-02 15:30", 0.5, "2026-03-02 12:00"),  # 2h of 2h+2h: lunch
        # no working time at all (Saturday): linear fallback
        ("2026-03-07 10:00", "2026-03-07 14:00", 0.5, "2026-03-07 12:00"),
    ],
)
def test_point_of_a_working_span(start: str, end: str, fraction: float, expected: str) -> None:
    assert CN.point(at(start), at(end), fraction) == at(expected)


def test_working_seconds_between() -> None:
    assert CN.working_seconds_between(at("2026-03-02 16:30"), at("2026-03-03 10:30")) == 9000
    assert CN.working_seconds_between(at("2026-09-30 09:00"), at("2026-10-08 09:00")) == 7 * 3600
    assert CN.working_seconds_between(at("2026-03-03 10:00"), at("2026-03-02 10:00")) == 0


# -- known data ------------------------------------------------------------------------------


def test_known_data_until_matches_the_installed_package() -> None:
    last_year = max(d.year for d in [*cc_constants.holidays, *cc_constants.workdays])
    assert known_data_until() == date(last_year, 12, 31)
    assert CN.known_until == known_data_until()


def test_beyond_known() -> None:
    known = known_data_until()
    assert CN.beyond_known(datetime(known.year + 1, 1, 5, 10, tzinfo=SH))
    assert not CN.beyond_known(datetime(known.year, 12, 31, 23, 0, tzinfo=SH))
    # the local (Shanghai) date decides: 16:30 UTC on Dec 31 is already Jan 1 in Shanghai
    assert CN.beyond_known(datetime(known.year, 12, 31, 16, 30, tzinfo=UTC))
    assert not always_calendar().beyond_known(datetime(9000, 1, 1, tzinfo=SH))


def test_china_calendar_tables_and_overrides() -> None:
    assert date(2026, 10, 1) in CN.holidays and date(2026, 9, 20) in CN.workdays
    known = known_data_until()
    cal = china_calendar(
        extra_holidays=[date(2026, 3, 2)],
        extra_workdays=[date(2026, 10, 2)],
        known_until_override=date(known.year + 1, 12, 31),
    )
    assert not cal.is_working_day(date(2026, 3, 2))
    assert cal.is_working_day(date(2026, 10, 2)) and date(2026, 10, 2) not in cal.holidays
    assert cal.known_until == date(known.year + 1, 12, 31)
    assert china_calendar(known_until_override=date(2000, 1, 1)).known_until == known
    with pytest.raises(ValueError, match="both"):
        china_calendar(extra_holidays=[date(2026, 3, 2)], extra_workdays=[date(2026, 3, 2)])


# -- properties ------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([SH, UTC, CST, timezone(timedelta(hours=-5))]),
)
working_limits = st.builds(
    working, st.integers(min_value=0, max_value=200), st.sampled_from(["minutes", "hours"])
)
any_limits = st.builds(
    Limit,
    amount=st.integers(min_value=0, max_value=100),
    unit=st.sampled_from(["seconds", "minutes", "hours", "days"]),
    working=st.booleans(),
)


def in_working_time(cal: WorkingCalendar, moment: datetime) -> bool:
    """Inside a working interval, its end included (an exact fill ends there)."""
    local = moment.astimezone(ZoneInfo(cal.timezone))
    t = local.time()
    return cal.is_working_day(local.date()) and any(a < t <= b for a, b in cal.hours)


@settings(max_examples=300)
@given(start=moments, limit=any_limits)
def test_add_never_goes_back(start: datetime, limit: Limit) -> None:
    assert CN.add(start, limit) >= start


@settings(max_examples=300)
@given(a=moments, b=moments, limit=working_limits)
def test_add_is_monotonic_in_start(a: datetime, b: datetime, limit: Limit) -> None:
    s1, s2 = sorted([a, b])
    assert CN.add(s1, limit) <= CN.add(s2, limit)


@settings(max_examples=300)
@given(start=moments, amount=st.integers(min_value=1, max_value=100_000))
def test_positive_working_add_lands_in_working_time(start: datetime, amount: int) -> None:
    assert in_working_time(CN, CN.add(start, working(amount, "seconds")))


@settings(max_examples=300)
@given(a=moments, b=moments, fraction=st.floats(min_value=0.0, max_value=1.0))
def test_point_lies_between_start_and_end(a: datetime, b: datetime, fraction: float) -> None:
    start, end = sorted([a, b])
    for cal in (CN, always_calendar()):
        assert start <= cal.point(start, end, fraction) <= end


# -- the fast path against the reference loops -----------------------------------------------
#
# ``add``/``point``/``working_seconds_between`` answer from a precomputed index; the day-by-day
# loops they replaced stay as ``_slow_*``. These properties check that both agree to the
# microsecond, zone and fold included, or fail with the same error.

NY = ZoneInfo("America/New_York")
ZONES = [SH, UTC, CST, timezone(timedelta(hours=-5)), NY]
FIRST_INDEXED, LAST_INDEXED = _index_range(CN)

# Calendars exercising the index's two modes: Asia/Shanghai has a provably fixed offset (wall
# time keys); the DST zones do not (UTC keys), and their hours straddle DST gaps and folds
# (New York switches at 02:00, Havana at midnight).
DST_CALENDARS = [
    WorkingCalendar(
        name="new-york",
        timezone="America/New_York",
        hours=((time(1, 30), time(2, 30)), (time(9), time(17))),
        holidays=frozenset({date(2026, 11, 26), date(2026, 12, 25)}),
        workdays=frozenset({date(2026, 3, 7)}),
        known_until=date(2026, 12, 31),
    ),
    WorkingCalendar(
        name="havana",
        timezone="America/Havana",
        hours=((time(0, 0), time(0, 45)), (time(8), time(12)), (time(23, 30), time(23, 59))),
        weekend=frozenset({6}),
    ),
    WorkingCalendar(name="london", timezone="Europe/London"),
]
ODD_HOURS = china_calendar(  # a sliver of an interval and one ending a microsecond before midnight
    "odd", hours=[(time(0, 0), time(0, 0, 0, 1)), (time(8), time(23, 59, 59, 999999))]
)
CALENDARS = [CN, ODD_HOURS, *DST_CALENDARS]

# Date windows: 2026's Spring Festival and National Day with their make-up Saturdays/Sundays
# (Feb 14 and 28; Sep 20 and Oct 10) and the Mid-Autumn holiday, the DST switches, a broad
# span, and the edges of the index (where the reference loops take over).
WINDOWS = [
    (date(2026, 2, 1), date(2026, 3, 6)),
    (date(2026, 9, 12), date(2026, 10, 20)),
    (date(2026, 3, 6), date(2026, 3, 10)),  # US spring forward (Mar 8)
    (date(2026, 10, 30), date(2026, 11, 3)),  # US fall back (Nov 1)
    (date(2025, 1, 1), date(2027, 12, 31)),
    (FIRST_INDEXED - timedelta(days=20), FIRST_INDEXED + timedelta(days=20)),
    (LAST_INDEXED - timedelta(days=60), LAST_INDEXED + timedelta(days=20)),
]
# Times of day near the interval boundaries of all the calendars above, and anything else.
EDGES = [time(h, m) for h, m in [(0, 0), (0, 45), (1, 30), (2, 30), (8, 0), (9, 0), (12, 0)]]
EDGES += [time(h, m) for h, m in [(13, 30), (17, 0), (17, 30), (23, 30), (23, 59)]]
times_of_day = st.one_of(
    st.sampled_from(EDGES),
    st.sampled_from(EDGES).map(
        lambda t: (datetime.combine(date(2026, 1, 2), t) - timedelta(microseconds=1)).time()
    ),
    st.times(),
)
window_dates = st.sampled_from(WINDOWS).flatmap(lambda w: st.dates(*w))


def _moment(day: date, t: time, local: ZoneInfo, fold: int, zone: tzinfo | None) -> datetime:
    """``day t`` in ``local`` (kept as given, even inside a DST gap or fold), or converted."""
    moment = datetime.combine(day, t, tzinfo=local).replace(fold=fold)
    return moment if zone is None else moment.astimezone(zone)


near_holidays = st.builds(
    _moment,
    window_dates,
    times_of_day,
    st.sampled_from([SH, NY, ZoneInfo("America/Havana"), ZoneInfo("Europe/London")]),
    st.sampled_from([0, 1]),
    st.sampled_from([None, *ZONES]),
)
working_amounts = st.one_of(
    st.builds(working, st.integers(0, 40), st.sampled_from(["hours", "days"])),
    st.builds(working, st.integers(0, 400), st.sampled_from(["minutes", "hours", "days"])),
    st.builds(working, st.integers(0, 10**6), st.sampled_from(["seconds", "minutes"])),
)
wall_amounts = st.builds(
    wall, st.integers(-(10**5), 10**5), st.sampled_from(["seconds", "minutes", "hours", "days"])
)


def outcome(compute: Callable[[], datetime | float]) -> tuple[object, ...]:
    """A result with everything that could differ (zone, offset, fold, text), or the error."""
    try:
        found = compute()
    except (ValueError, OverflowError) as exc:
        return ("error", type(exc), str(exc))
    if isinstance(found, float):
        return ("seconds", found)
    return ("at", found, found.tzinfo, found.utcoffset(), found.fold, found.isoformat())


BY_NAME = {cal.name: cal for cal in CALENDARS}
BY_NAME["24x7"] = always_calendar()
BY_NAME["24x7-new-york"] = WorkingCalendar(name="ny", timezone="America/New_York", always=True)


@settings(max_examples=1500, deadline=None)
@given(
    name=st.sampled_from([cal.name for cal in CALENDARS]),
    start=near_holidays,
    limit=st.one_of(working_amounts, wall_amounts),
)
def test_add_agrees_with_the_reference(name: str, start: datetime, limit: Limit) -> None:
    cal = BY_NAME[name]
    assert outcome(lambda: cal.add(start, limit)) == outcome(lambda: cal._slow_add(start, limit))


@settings(max_examples=1000, deadline=None)
@given(
    name=st.sampled_from(sorted(BY_NAME)),
    a=near_holidays,
    b=st.one_of(near_holidays, st.timedeltas(timedelta(0), timedelta(days=40))),
    fraction=st.one_of(st.sampled_from([0.0, 0.5, 0.8, 1.0]), st.floats(0.0, 1.0)),
    backwards=st.booleans(),
)
def test_point_and_working_seconds_agree_with_the_reference(
    name: str, a: datetime, b: datetime | timedelta, fraction: float, backwards: bool
) -> None:
    cal = BY_NAME[name]
    start, end = a, (a + b if isinstance(b, timedelta) else b)
    if backwards:  # mostly an error, which must be the same error
        start, end = end, start
    assert outcome(lambda: cal.point(start, end, fraction)) == outcome(
        lambda: cal._slow_point(start, end, fraction)
    )
    assert outcome(lambda: cal.working_seconds_between(start, end)) == outcome(
        lambda: cal._slow_working_seconds_between(start, end)
    )


# -- the core's UTC operations against the public ones ------------------------------------------
#
# ``add_utc``/``point_utc`` (what the core calls with UTC instants) must answer exactly what
# ``add``/``point`` answer, converted to UTC, and ``add_utc`` must flag ``beyond_known`` alike.


def utc_outcome(compute: Callable[[], datetime | tuple[datetime, bool]]) -> tuple[object, ...]:
    try:
        found = compute()
    except (ValueError, OverflowError) as exc:
        return ("error", type(exc), str(exc))
    if isinstance(found, tuple):
        moment, beyond = found
        return ("at", moment, moment.tzinfo, moment.fold, moment.isoformat(), beyond)
    return ("at", found, found.tzinfo, found.fold, found.isoformat())


def _public_add(cal: WorkingCalendar, start: datetime, limit: Limit) -> tuple[datetime, bool]:
    local = cal.add(start, limit)
    return local.astimezone(UTC), cal.beyond_known(local)


@settings(max_examples=1500, deadline=None)
@given(
    name=st.sampled_from(sorted(BY_NAME)),
    start=near_holidays,
    limit=st.one_of(working_amounts, wall_amounts),
)
def test_add_utc_agrees_with_add(name: str, start: datetime, limit: Limit) -> None:
    cal = BY_NAME[name]
    start = start.astimezone(UTC)
    assert utc_outcome(lambda: cal.add_utc(start, limit)) == utc_outcome(
        lambda: _public_add(cal, start, limit))


@settings(max_examples=1000, deadline=None)
@given(
    name=st.sampled_from(sorted(BY_NAME)),
    a=near_holidays,
    b=st.one_of(near_holidays, st.timedeltas(timedelta(0), timedelta(days=40))),
    fraction=st.one_of(st.sampled_from([0.0, 0.5, 0.8, 1.0]), st.floats(0.0, 1.0)),
    backwards=st.booleans(),
)
def test_point_utc_agrees_with_point(
    name: str, a: datetime, b: datetime | timedelta, fraction: float, backwards: bool
) -> None:
    cal = BY_NAME[name]
    start, end = a.astimezone(UTC), (a + b if isinstance(b, timedelta) else b).astimezone(UTC)
    if backwards:
        start, end = end, start
    assert utc_outcome(lambda: cal.point_utc(start, end, fraction)) == utc_outcome(
        lambda: cal.point(start, end, fraction).astimezone(UTC))


@pytest.mark.parametrize("limit", [working(3, "hours"), working(2, "days"), wall(4, "hours")])
@pytest.mark.parametrize(
    "start",
    [FIRST_INDEXED, FIRST_INDEXED + timedelta(days=1), LAST_INDEXED - timedelta(days=1),
     LAST_INDEXED, CN.known_until, date(2026, 12, 31)],
)
def test_utc_operations_at_the_index_edges(start: date, limit: Limit) -> None:
    for t in (time(0, 0), time(8, 0), time(15, 59, 59, 999999), time(16, 0), time(23, 59)):
        moment = datetime.combine(start, t, tzinfo=UTC) - timedelta(hours=8)
        for cal in (CN, ODD_HOURS, always_calendar()):
            assert utc_outcome(lambda c=cal, m=moment: c.add_utc(m, limit)) == utc_outcome(
                lambda c=cal, m=moment: _public_add(c, m, limit))
            end = moment + timedelta(days=3)
            assert utc_outcome(lambda c=cal, m=moment, e=end: c.point_utc(m, e, 0.8)) == (
                utc_outcome(lambda c=cal, m=moment, e=end: c.point(m, e, 0.8).astimezone(UTC)))


@pytest.mark.parametrize(
    ("start", "limit"),
    [
        ("2026-09-30 16:30", working(2, "hours")),
        ("2026-09-30 10:00", working(1, "days")),
        ("2026-02-13 10:00", working(2, "days")),
        ("2026-02-13 17:29", working(3, "minutes")),
        ("2026-02-14 12:00", working(7, "hours")),  # make-up Saturday, over lunch
        ("2026-10-10 17:30", working(1, "seconds")),
        ("2026-01-05 10:00", working(60, "days")),
        ("2026-01-05 10:00", working(60 * 7, "hours")),
        ("2031-12-30 10:00", working(3, "days")),  # past the index's end: reference loop
        ("2002-12-31 10:00", working(3, "hours")),  # before its start
        ("1988-04-10 10:00", working(2, "hours")),  # China still had DST
    ],
)
def test_known_cases_agree_with_the_reference(start: str, limit: Limit) -> None:
    assert outcome(lambda: CN.add(at(start), limit)) == outcome(
        lambda: CN._slow_add(at(start), limit)
    )


def test_index_modes_and_laziness() -> None:
    assert zone_for("Asia/Shanghai").fixed_from is not None  # no transition since 1991, no DST
    assert zone_for("UTC").fixed_from is not None
    assert zone_for("America/New_York").fixed_from is None
    cn = china_calendar("fresh", extra_holidays=[date(2026, 3, 2)])
    always = always_calendar("fresh-24x7")
    cn.add(at("2026-03-02 10:00"), wall(4, "hours"))
    cn.point(at("2026-03-02 10:00"), at("2026-03-02 14:00"), 0.5)
    always.add(at("2026-03-02 10:00"), working(2, "days"))
    always.point(at("2026-03-02 10:00"), at("2026-03-02 14:00"), 0.5)
    assert plan_of(always).index is _UNBUILT  # 24x7 calendars never build an index
    cn2 = china_calendar("fresh-2", extra_holidays=[date(2026, 3, 3)])
    cn2.add(at("2026-03-02 10:00"), wall(4, "hours"))
    assert plan_of(cn2).index is _UNBUILT  # nor do wall limits
    cn2.add(at("2026-03-02 10:00"), working(4, "hours"))
    index = plan_of(cn2).index_of(cn2)
    assert index is not None and index.fixed
    ny = DST_CALENDARS[0]
    ny_index = plan_of(ny).index_of(ny)
    assert ny_index is not None and not ny_index.fixed


def test_the_cache_is_invisible_to_the_model() -> None:
    fresh = china_calendar()
    fields = fresh.model_dump()
    dumped_json = fresh.model_dump_json()
    before = hash(fresh)
    fresh.add(at("2026-03-02 10:00"), working(2, "days"))
    fresh.point(at("2026-03-02 10:00"), at("2026-03-04 10:00"), 0.5)
    assert fresh.model_dump() == fields and set(fields) == set(WorkingCalendar.model_fields)
    assert fresh.model_dump_json() == dumped_json
    assert hash(fresh) == before == hash(china_calendar()) and fresh == china_calendar()
    assert fresh.__dict__.keys() == WorkingCalendar.model_fields.keys()
    # a copy with other day tables gets its own index, not the original's
    copy = fresh.model_copy(update={"holidays": fresh.holidays | {date(2026, 3, 3)}})
    assert copy.add(at("2026-03-02 10:00"), working(1, "days")) == at("2026-03-04 10:00")
    assert fresh.add(at("2026-03-02 10:00"), working(1, "days")) == at("2026-03-03 10:00")


def test_per_instance_state_goes_with_the_instance() -> None:
    cal = china_calendar("short-lived")
    cal.add(at("2026-03-02 10:00"), working(2, "hours"))
    key = id(cal)
    assert key in _plans
    del cal
    gc.collect()
    assert key not in _plans or _plans[key][0]() is not None  # dropped, or the id reused
