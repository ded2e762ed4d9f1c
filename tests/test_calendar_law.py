"""Holidays by law past chinese-calendar's data (issue 11 item 6): engine/rules/calendar_law.py,
the calendars built with it (engine/rules/calendars.py) and the warning's words
(engine/domain/calendar/beyond.py).

The computation is checked against every year chinese-calendar knows (2004-2026): each
statutory holiday computed by the regulation in force that year is a day off there."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import chinese_calendar.constants as cc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tyme4py.lunar import LunarMonth

from engine.domain.calendar import Limit, WorkingCalendar
from engine.rules.calendar_law import (
    LAW_YEARS,
    REVISIONS,
    law_days,
    lunar_date,
    new_year_eve,
    qingming,
    revision_for,
    statutory,
    substitutes,
)
from engine.rules.calendars import china_calendar, known_data_until

SH = ZoneInfo("Asia/Shanghai")
WEEKEND = frozenset({5, 6})
ONE_DAY = timedelta(days=1)
CC_HOLIDAYS = frozenset(date(d.year, d.month, d.day) for d in cc.holidays)
CC_WORKDAYS = frozenset(date(d.year, d.month, d.day) for d in cc.workdays)
KNOWN = known_data_until()
KNOWN_YEARS = range(2004, KNOWN.year + 1)
CN = china_calendar()


def day_off_in_package(day: date) -> bool:
    """chinese-calendar's own answer: a listed holiday, or a weekend day not made a workday."""
    return day in CC_HOLIDAYS or (day.weekday() in WEEKEND and day not in CC_WORKDAYS)


# -- the check against the years chinese-calendar knows ------------------------------------------


def test_the_package_still_knows_2004_to_2026() -> None:
    # the 2027 cases below (and the golden scenario raised on 30 Dec 2026) assume 2027 is past
    # the data: a chinese-calendar that knows 2027 needs them moved a year on
    assert date(2026, 12, 31) == KNOWN, "chinese-calendar knows a new year: move the cases on"
    assert min(d.year for d in CC_HOLIDAYS) == 2004


@pytest.mark.parametrize("year", KNOWN_YEARS)
def test_every_holiday_by_law_is_a_day_off_in_chinese_calendar(year: int) -> None:
    days = [day for day, _ in statutory(year)]
    assert days, year
    for day in days:
        assert day.year == year
        assert day not in CC_WORKDAYS, f"{day} computed by law is a make-up working day"
        assert day_off_in_package(day), f"{day} ({revision_for(year).name}) is a working day"
        # listed as a holiday, except a Saturday the package leaves unlisted (2012-06-23, the
        # Dragon Boat Festival, is off as a weekend day)
        assert day in CC_HOLIDAYS or day == date(2012, 6, 23), day


def test_the_2024_revision_governs_2025_on_and_matches_2025_and_2026() -> None:
    assert revision_for(2025).name == revision_for(2040).name == "2024 revision"
    for year in (2025, 2026):
        assert len(statutory(year)) == 1 + 4 + 1 + 2 + 1 + 1 + 3  # 13 days
        assert all(day in CC_HOLIDAYS for day, _ in statutory(year))
    # the lunar New Year's eve is a holiday again from 2025 (it was not in 2014-2024)
    assert new_year_eve(2025) in CC_HOLIDAYS and new_year_eve(2026) in CC_HOLIDAYS
    assert new_year_eve(2024) not in {d for d, _ in statutory(2024)}


def test_revisions_are_newest_first_and_nothing_is_modelled_before_2000() -> None:
    assert [r.since for r in REVISIONS] == sorted((r.since for r in REVISIONS), reverse=True)
    with pytest.raises(ValueError, match="before 2000"):
        statutory(1999)


def test_estimated_substitutes_were_days_off_in_all_but_two_known_cases() -> None:
    """How good the estimate is: over 2008-2026, 61 of the 63 substitutes it gives were days off
    in the published schedules. The two misses: 2012's Dragon Boat Festival on a Saturday got
    the Friday before, and 2015's Mid-Autumn Festival on a Sunday got no weekday."""
    estimated = [s for year in range(2008, KNOWN.year + 1)
                 for s in substitutes([d for d, _ in statutory(year)], WEEKEND)]
    misses = [s for s in estimated if not day_off_in_package(s)]
    assert len(estimated) == 63
    assert misses == [date(2012, 6, 25), date(2015, 9, 28)]


# -- lunar dates and the solar term ---------------------------------------------------------------


def test_lunar_dates_and_qingming_of_the_coming_years() -> None:
    # published almanac dates (independent of the package)
    assert [lunar_date(y, 1, 1) for y in (2027, 2028, 2029, 2030)] == [
        date(2027, 2, 6), date(2028, 1, 26), date(2029, 2, 13), date(2030, 2, 3)]
    assert lunar_date(2027, 5, 5) == date(2027, 6, 9)
    assert lunar_date(2027, 8, 15) == date(2027, 9, 15)
    assert lunar_date(2028, 8, 15) == date(2028, 10, 3)  # on National Day
    assert [qingming(y) for y in (2027, 2028, 2029)] == [
        date(2027, 4, 5), date(2028, 4, 4), date(2029, 4, 4)]


@pytest.mark.parametrize("year", range(2004, 2100))
def test_qingming_agrees_with_chinese_calendars_solar_terms(year: int) -> None:
    """Two methods: tyme4py's ephemeris and chinese-calendar's century constants."""
    terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
    assert [d for d, name in terms if name == "清明"] == [qingming(year)]


@pytest.mark.parametrize("year", range(2004, 2100))
def test_the_new_years_eve_is_the_last_day_of_the_twelfth_month(year: int) -> None:
    eve = new_year_eve(year)
    length = LunarMonth.from_ym(year - 1, 12).get_day_count()
    assert length in (29, 30)
    assert eve == lunar_date(year - 1, 12, length)
    assert eve + ONE_DAY == lunar_date(year, 1, 1)


def test_the_eve_can_be_the_29th() -> None:
    # 2025-2029 have no 30th of the twelfth month (除夕 is 腊月廿九); 2024's was the 30th
    assert new_year_eve(2024) == date(2024, 2, 9) == lunar_date(2023, 12, 30)
    assert new_year_eve(2025) == date(2025, 1, 28) == lunar_date(2024, 12, 29)
    assert new_year_eve(2026) == date(2026, 2, 16) == lunar_date(2025, 12, 29)
    assert new_year_eve(2027) == date(2027, 2, 5) == lunar_date(2026, 12, 29)
    with pytest.raises(ValueError):
        lunar_date(2026, 12, 30)  # there is no 30th: "the 30th" would be wrong


# -- the weekday substitutes ----------------------------------------------------------------------


def test_2027_by_law_and_estimated() -> None:
    assert [d for d, _ in statutory(2027)] == [
        date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8),
        date(2027, 4, 5), date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
        date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)]
    # Sat/Sun 6-7 Feb, 1-2 May, 2-3 Oct: the next working days after each
    assert substitutes([d for d, _ in statutory(2027)], WEEKEND) == (
        date(2027, 2, 9), date(2027, 2, 10), date(2027, 5, 3), date(2027, 5, 4),
        date(2027, 10, 4), date(2027, 10, 5))


def test_two_festivals_on_one_day_and_new_year_on_a_saturday() -> None:
    entries = [d for d, _ in statutory(2028)]
    assert entries.count(date(2028, 10, 3)) == 2  # Mid-Autumn and National Day
    assert substitutes(entries, WEEKEND) == (
        date(2028, 1, 3),  # New Year's Day on a Saturday
        date(2028, 5, 29),  # Dragon Boat on Sunday 28 May
        date(2028, 10, 4),  # National Day on Sunday 1 Oct
        date(2028, 10, 5))  # 3 Oct is two holidays


days_in_a_year = st.lists(st.dates(date(2030, 1, 1), date(2030, 12, 20)), max_size=20)


@given(days=days_in_a_year, weekend=st.frozensets(st.integers(0, 6), max_size=3))
def test_substitutes_are_the_next_working_days_owed(days: list[date], weekend: frozenset[int]
                                                    ) -> None:
    holidays = set(days)
    # a date with k festivals owes k days on a weekend, k - 1 on a weekday
    owed = sum(days.count(d) - (d.weekday() not in weekend) for d in holidays)
    found = substitutes(days, weekend)
    assert len(found) == owed
    assert len(set(found)) == len(found)
    for s in found:
        assert s.weekday() not in weekend and s not in holidays
    # each is the earliest free working day after the holiday that owes it, in date order
    taken: set[date] = set()
    owing = sorted(days)
    seen: set[date] = set()
    it = iter(found)
    for d in owing:
        if d.weekday() in weekend or d in seen:
            s = next(it)
            assert s > d
            gap = d + ONE_DAY
            while gap < s:
                assert gap.weekday() in weekend or gap in holidays or gap in taken
                gap += ONE_DAY
            taken.add(s)
        seen.add(d)


# -- calendars past the data -------------------------------------------------------------------


def test_the_china_calendar_counts_the_law_past_the_data() -> None:
    assert CN.known_until == KNOWN
    assert CN.law_until == date(KNOWN.year + LAW_YEARS, 12, 31)
    assert min(CN.by_law) == date(KNOWN.year + 1, 1, 1)
    assert not CN.is_working_day(date(2027, 1, 1))  # a Friday, New Year's Day by law
    assert not CN.is_working_day(date(2027, 2, 10))  # estimated
    assert CN.is_working_day(date(2027, 2, 11))
    assert not any(d > KNOWN for d in CN.workdays)  # no make-up working day invented


@settings(max_examples=200)
@given(day=st.dates(date(2027, 1, 1), date(2045, 12, 31)))
def test_past_the_data_a_day_is_off_by_law_estimate_or_weekend_only(day: date) -> None:
    by_law_or_estimated = day in CN.by_law or day in CN.estimated
    assert CN.is_working_day(day) == (day.weekday() not in WEEKEND and not by_law_or_estimated)
    if by_law_or_estimated:
        assert CN.known_until is not None and CN.law_until is not None
        assert CN.known_until < day <= CN.law_until
    if day in CN.estimated:
        assert day.weekday() not in WEEKEND and day not in CN.by_law


@settings(max_examples=60, deadline=None)
@given(year=st.integers(KNOWN.year + 1, KNOWN.year + LAW_YEARS))
def test_each_year_by_law_has_its_13_statutory_days(year: int) -> None:
    entries = statutory(year)
    assert len(entries) == 13
    assert {d for d, _ in entries} == {d for d in CN.by_law if d.year == year}
    assert set(substitutes([d for d, _ in entries], WEEKEND)) == {
        d for d in CN.estimated if d.year == year}


def test_yaml_overrides_win_over_the_law() -> None:
    # a make-up working day and an extra holiday the law cannot know, in a year past the data
    cal = china_calendar(extra_workdays=[date(2027, 2, 10), date(2027, 1, 1)],
                         extra_holidays=[date(2027, 2, 11)])
    assert cal.is_working_day(date(2027, 2, 10)) and cal.is_working_day(date(2027, 1, 1))
    assert not cal.is_working_day(date(2027, 2, 11))
    assert date(2027, 1, 1) not in cal.by_law and date(2027, 2, 10) not in cal.estimated
    # the official schedule for 2027 declared (data_until): the law starts in 2028
    declared = china_calendar(extra_holidays=[date(2027, 1, 1)],
                              known_until_override=date(2027, 12, 31))
    assert declared.is_working_day(date(2027, 2, 5))  # by law off, but the file covers 2027
    assert min(declared.by_law) == date(2028, 1, 1)
    assert declared.law_until == date(2027 + LAW_YEARS, 12, 31)


def test_law_years_zero_counts_weekends_only() -> None:
    cal = china_calendar(law_years=0)
    assert cal.by_law == cal.estimated == frozenset() and cal.law_until is None
    assert cal.is_working_day(date(2027, 1, 1))


def test_law_days_of_a_part_year() -> None:
    found = law_days(date(2027, 6, 30), 1)
    assert min(found.by_law) == date(2027, 9, 15) and found.until == date(2028, 12, 31)
    assert date(2027, 5, 3) not in found.estimated and date(2027, 10, 4) in found.estimated


def test_a_calendar_refuses_inconsistent_law_fields() -> None:
    with pytest.raises(ValidationError, match="among the holidays"):
        WorkingCalendar(name="x", known_until=date(2026, 12, 31), law_until=date(2027, 12, 31),
                        by_law=frozenset({date(2027, 1, 1)}))
    with pytest.raises(ValidationError, match="after known_until"):
        WorkingCalendar(name="x", known_until=date(2026, 12, 31), law_until=date(2027, 12, 31),
                        holidays=frozenset({date(2026, 10, 1)}),
                        by_law=frozenset({date(2026, 10, 1)}))
    with pytest.raises(ValidationError, match="need known_until"):
        WorkingCalendar(name="x", holidays=frozenset({date(2027, 1, 1)}),
                        by_law=frozenset({date(2027, 1, 1)}))


# -- deadlines and the warning -------------------------------------------------------------------


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(date(y, m, d), time(hh, mm), tzinfo=SH)


def days(n: int) -> Limit:
    return Limit(amount=n, unit="days", working=True)


def hours(n: int) -> Limit:
    return Limit(amount=n, unit="hours", working=True)


def test_deadlines_from_30_december_2026_skip_new_years_day_2027() -> None:
    start = at(2026, 12, 30, 16, 30)
    assert CN.add(start, hours(4)) == at(2026, 12, 31, 12)
    assert CN.add(start, days(2)) == at(2027, 1, 4, 16, 30)  # Thu 31, (Fri 1 off), Mon 4
    assert CN.add(at(2026, 12, 31, 16, 30), hours(2)) == at(2027, 1, 4, 10)
    # weekends only, as before: 1 January counted as a working day
    assert china_calendar(law_years=0).add(start, days(2)) == at(2027, 1, 1, 16, 30)


def test_deadlines_in_february_2027_skip_the_spring_festival() -> None:
    # Thu 4 Feb + 5 working days: 5-8 Feb by law, 9-10 Feb estimated, then 11, 12, 15, 16, 17
    assert CN.add(at(2027, 2, 4, 10), days(5)) == at(2027, 2, 17, 10)
    assert china_calendar(law_years=0).add(at(2027, 2, 4, 10), days(5)) == at(2027, 2, 11, 10)
    assert CN.working_seconds_between(at(2027, 2, 4, 17, 30), at(2027, 2, 11, 9)) == 0


def test_the_fast_path_agrees_with_the_reference_past_the_data() -> None:
    start = at(2026, 12, 20, 9)
    for k in range(0, 24 * 400, 7):
        moment = start + timedelta(hours=k)
        for limit in (hours(3), days(1), days(7), Limit(amount=90, unit="minutes", working=True)):
            assert CN.add(moment, limit) == CN._slow_add(moment, limit), (moment, limit)


def test_the_warning_says_by_law_estimated_and_unknown_per_year() -> None:
    assert CN.beyond_note(date(2026, 12, 31)) == ""
    note = CN.beyond_note(date(2027, 3, 1))
    assert note == (
        "2027: holidays by law 01-01, 02-05..02-08, 04-05, 05-01..05-02, 06-09, 09-15, "
        "10-01..10-03; estimated days off for holidays on a weekend (the next working day) "
        "02-09..02-10, 05-03..05-04, 10-04..10-05; make-up working days (调休) unknown, none "
        "counted")
    two = CN.beyond_note(date(2028, 1, 5))
    assert two.startswith(note + " | 2028: holidays by law 01-01, 01-25..01-28, ")
    assert CN.law_until is not None
    late = CN.beyond_note(date(CN.law_until.year + 1, 1, 5))
    assert late.endswith(f"{CN.law_until.year + 1}: weekends only (no holidays computed by law "
                         f"after {CN.law_until})")
    assert china_calendar(law_years=0).beyond_note(date(2027, 1, 5)) == (
        "2027: weekends only (no holidays computed by law)")


def test_the_golden_scenario_raised_30_december_warns_what_it_counts() -> None:
    """tests/testdata/replays/scenarios/raised_30_dec_2026_past_the_data.yaml: its lifecycle is
    the golden; here, its deadlines and the warnings the core gives with them."""
    from engine.domain.events import IssueAssigned
    from engine.domain.replay import Replayer
    from engine.rules.loader import load_ruleset
    from tests.test_replay_golden import HERE, load_events

    rules = load_ruleset(HERE / "rules").ruleset
    assert rules is not None
    events, until = load_events(HERE / "scenarios" / "raised_30_dec_2026_past_the_data.yaml")
    decisions = list(Replayer(rules).run(events, until=until))
    resolve_by = [e.data.resolve_by.astimezone(SH) for d in decisions for e in d.emit
                  if isinstance(e, IssueAssigned)]
    assert resolve_by == [at(2026, 12, 31, 12), at(2027, 1, 4, 13, 30), at(2027, 1, 6, 13, 30),
                          at(2027, 1, 13, 13, 30), at(2027, 2, 17, 10)]
    warnings = [w for d in decisions for w in d.warnings]
    assert warnings, "deadlines past the data must warn"
    for w in warnings:
        assert w.startswith("calendar office: deadline 2027-"), w
        assert "is past its known holiday data (2026-12-31); 2027: holidays by law 01-01, " in w
        assert "estimated days off for holidays on a weekend (the next working day) 02-09" in w
        assert w.endswith("make-up working days (调休) unknown, none counted"), w
    assert any("deadline 2027-02-17T10:00:00+08:00" in w for w in warnings)


def test_rules_explain_shows_the_law_and_warns_what_it_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from engine.cli import main

    root = Path(__file__).resolve().parent.parent
    sample, event = root / "engine" / "sample" / "xishan", (
        root / "engine" / "sample" / "events" / "parking-before-national-day.json")
    args = ["rules", "explain", str(sample), "--event", str(event),
            "--at", "2026-12-30T16:00:00+08:00"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calendar"]["known_until"] == "2026-12-31"
    assert report["calendar"]["law_until"] == f"{2026 + LAW_YEARS}-12-31"
    village = report["ladder"][1]
    assert village["resolve_by"] == "2027-01-04T03:30:00+00:00"  # Mon 4 Jan 11:30, not Fri 1 Jan
    assert report["warnings"] and all("2027: holidays by law 01-01, " in w
                                      for w in report["warnings"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (f"holiday data until 2026-12-31, holidays by law until {2026 + LAW_YEARS}-12-31)"
            in out)
    assert "WARNING: calendar office: deadline 2027-01-04T11:30:00+08:00 is past its known " in out


def test_rules_check_warns_for_each_year_past_the_data_up_to_its_horizon(tmp_path: Path) -> None:
    import shutil

    from engine.rules.loader import load_ruleset

    shutil.copytree(Path(__file__).parent / "testdata" / "rules" / "calendar_data_ends",
                    tmp_path / "rules")
    (tmp_path / "rules" / "expected.txt").unlink()
    result = load_ruleset(tmp_path / "rules", today=date(2028, 11, 20))  # 60 days on: 2029
    assert result.ruleset is not None
    (warning,) = result.warnings
    assert warning.startswith("calendar office: holiday data ended 2026-12-31 (690 days before "
                              "2028-11-20); past it deadlines count 2027: holidays by law ")
    assert " | 2028: holidays by law " in warning and " | 2029: holidays by law " in warning
    assert " | 2030" not in warning
    assert warning.count("make-up working days (调休) unknown, none counted") == 3


def test_a_rule_files_extra_days_win_over_the_law(tmp_path: Path) -> None:
    import shutil

    from engine.rules.loader import load_ruleset

    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).parent / "testdata" / "rules" / "calendar_data_ends", rules)
    (rules / "expected.txt").unlink()
    text = (rules / "rules.yaml").read_text(encoding="utf-8")
    line = '  office: {kind: china, hours: ["09:00-12:00", "13:30-17:30"]}\n'
    assert line in text
    (rules / "rules.yaml").write_text(text.replace(line, (
        '  office: {kind: china, hours: ["09:00-12:00", "13:30-17:30"],\n'
        "           extra_workdays: [2027-01-01, 2027-02-10], extra_holidays: [2027-02-11]}\n")),
        encoding="utf-8")
    result = load_ruleset(rules, today=date(2026, 12, 4))
    assert result.ruleset is not None, result.errors
    office = result.ruleset.calendars["office"]
    assert office.is_working_day(date(2027, 1, 1)) and office.is_working_day(date(2027, 2, 10))
    assert not office.is_working_day(date(2027, 2, 11)) and not office.is_working_day(
        date(2027, 2, 9))  # the law still counts the days the file does not name
    assert office.add(at(2026, 12, 31, 16, 30), hours(2)) == at(2027, 1, 1, 10)
