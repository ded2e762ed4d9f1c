"""Working-time arithmetic: wall limits, working hours/days over China's 2026 tables, point()."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar.constants as cc_constants
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.domain.calendar import Limit, Unit, WorkingCalendar, always_calendar
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
