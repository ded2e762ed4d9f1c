"""China's public holidays by law, for the years past chinese-calendar's day tables.

The State Council's regulation on national holidays (全国年节及纪念日放假办法) fixes which days
are holidays for all citizens; each year's schedule (which weekday stands in for a holiday on a
weekend, which weekends become make-up working days, 调休) is only published late in the year
before. chinese-calendar ships those schedules; past its last year this module computes:

- **by law**: the statutory holidays of the revision in force (``REVISIONS``); for 2025 on (the
  2024 revision): New Year's Day (1 Jan), the Spring Festival (the lunar New Year's eve and the
  first three days of the lunar year), Qingming (the day of the solar term), Labour Day (1-2 May),
  the Dragon Boat Festival (lunar 5/5), the Mid-Autumn Festival (lunar 8/15) and National Day
  (1-3 Oct). Lunar dates and the solar term come from ``tyme4py``.
- **estimated**: the regulation gives a weekday off (补假) when a holiday falls on a weekend; which
  weekday is the State Council's choice. The estimate (``substitutes``): each statutory holiday
  day on a weekend day, or on a day that is already a statutory holiday (two festivals on one
  date, as Mid-Autumn and National Day on 1 Oct 2020, when practice gave the day back), owes one
  day off, and that day is the first date after it that is not a weekend day, not a statutory
  holiday and not already a substitute ("the next working day"), taken in date order.
- **unknown**: the make-up working days. None are invented: a year past the data counts no
  working weekend.

The older revisions are here so the computation can be checked against every year chinese-
calendar knows (tests/test_calendar_law.py): each day computed for 2004-2026 is a day off there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from tyme4py.lunar import LunarDay
from tyme4py.solar import SolarDay, SolarTerm

ONE_DAY = timedelta(days=1)

#: How many years past the known data the holidays by law are computed; later deadlines count
#: weekends only (the regulation has been revised every 6-11 years: 1999, 2007, 2013, 2024).
LAW_YEARS = 10

NEW_YEAR = "New Year's Day"
SPRING = "Spring Festival"
QINGMING = "Qingming Festival"
LABOUR = "Labour Day"
DRAGON_BOAT = "Dragon Boat Festival"
MID_AUTUMN = "Mid-Autumn Festival"
NATIONAL = "National Day"


@dataclass(frozen=True)
class Revision:
    """One revision of the regulation: its statutory holidays for all citizens."""

    name: str
    since: int  # the first calendar year it governs
    spring_eve: bool  # the lunar New Year's eve is a holiday
    spring_days: int  # the first N days of the lunar year are holidays
    labour_days: int  # 1 May and the days after it
    traditional: bool  # Qingming, Dragon Boat and Mid-Autumn are holidays


#: Newest first. Each took effect on 1 January of ``since`` (the 1999 one in September 1999).
REVISIONS = (
    Revision("2024 revision", 2025, spring_eve=True, spring_days=3, labour_days=2,
             traditional=True),
    Revision("2013 revision", 2014, spring_eve=False, spring_days=3, labour_days=1,
             traditional=True),
    Revision("2007 revision", 2008, spring_eve=True, spring_days=2, labour_days=1,
             traditional=True),
    Revision("1999 revision", 2000, spring_eve=False, spring_days=3, labour_days=3,
             traditional=False),
)


def revision_for(year: int) -> Revision:
    for revision in REVISIONS:
        if year >= revision.since:
            return revision
    raise ValueError(f"no national-holiday regulation is modelled before {REVISIONS[-1].since}")


def _solar(day: SolarDay) -> date:
    return date(day.get_year(), day.get_month(), day.get_day())


def lunar_date(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar ``year``/``month``/``day`` (a regular month, not a leap one)."""
    return _solar(LunarDay.from_ymd(year, month, day).get_solar_day())


def qingming(year: int) -> date:
    """The day of the Qingming solar term (清明) in ``year``, Beijing time."""
    return _solar(SolarTerm.from_name(year, "清明").get_solar_day())


def new_year_eve(year: int) -> date:
    """The lunar New Year's eve (除夕) before lunar year ``year``: the last day of the previous
    lunar year's twelfth month, which is its 29th when that month is short."""
    return lunar_date(year, 1, 1) - ONE_DAY


@lru_cache(maxsize=256)
def statutory(year: int) -> tuple[tuple[date, str], ...]:
    """The statutory holidays of ``year`` (Gregorian) as (date, festival), in date order; a date
    where two festivals fall appears twice. All of them lie in ``year``: the lunar New Year's
    eve is never before 20 January."""
    rev = revision_for(year)
    spring = lunar_date(year, 1, 1)
    days = [(date(year, 1, 1), NEW_YEAR)]
    if rev.spring_eve:
        days.append((spring - ONE_DAY, SPRING))
    days += [(spring + k * ONE_DAY, SPRING) for k in range(rev.spring_days)]
    days += [(date(year, 5, 1) + k * ONE_DAY, LABOUR) for k in range(rev.labour_days)]
    if rev.traditional:
        days += [(qingming(year), QINGMING), (lunar_date(year, 5, 5), DRAGON_BOAT),
                 (lunar_date(year, 8, 15), MID_AUTUMN)]
    days += [(date(year, 10, 1) + k * ONE_DAY, NATIONAL) for k in range(3)]
    return tuple(sorted(days))


def substitutes(days: Iterable[date], weekend: frozenset[int]) -> tuple[date, ...]:
    """The estimated weekday substitutes (补假) for statutory holiday ``days`` (a repeated date:
    two festivals on one day): see the module's docstring for the rule."""
    ordered = sorted(days)
    holidays = frozenset(ordered)
    taken: list[date] = []
    seen: set[date] = set()
    for day in ordered:
        owed = day.weekday() in weekend or day in seen
        seen.add(day)
        if not owed:
            continue
        candidate = day + ONE_DAY
        while (candidate.weekday() in weekend or candidate in holidays
               or candidate in taken):
            candidate += ONE_DAY
        taken.append(candidate)
    return tuple(taken)


@dataclass(frozen=True)
class LawDays:
    """What the law gives for a range of days: statutory holidays and estimated substitutes."""

    by_law: frozenset[date]
    estimated: frozenset[date]
    until: date  # the last day covered


@lru_cache(maxsize=32)
def law_days(after: date, years: int = LAW_YEARS,
             weekend: frozenset[int] = frozenset({5, 6})) -> LawDays:
    """The holidays by law and the estimated substitutes of the days after ``after`` through
    31 December of ``after.year + years``, computed year by year."""
    last = after.year + years
    by_law: set[date] = set()
    estimated: set[date] = set()
    for year in range(after.year, last + 1):
        entries = [day for day, _ in statutory(year)]
        by_law.update(day for day in entries if day > after)
        estimated.update(day for day in substitutes(entries, weekend) if day > after)
    return LawDays(frozenset(by_law), frozenset(estimated), date(last, 12, 31))
