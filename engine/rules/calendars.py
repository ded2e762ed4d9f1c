"""Build working calendars from ``chinese-calendar``'s day tables (holidays and make-up days).

The domain's ``WorkingCalendar`` only does arithmetic; this module supplies the data. The base
tables are read once and cached: calendars are built many times (per rule file load, per test).
Past the last day known (the package's last year, or a rule file's ``data_until``), the
holidays by law and estimated substitutes (``calendar_law``) are added for ``LAW_YEARS`` years;
the rule file's ``extra_holidays``/``extra_workdays`` win over both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, time
from functools import lru_cache

import chinese_calendar.constants as cc_constants

from engine.domain.calendar import DEFAULT_HOURS, WorkingCalendar
from engine.rules.calendar_law import LAW_YEARS, law_days


@lru_cache(maxsize=1)
def _base_days() -> tuple[frozenset[date], frozenset[date], date]:
    """chinese-calendar's holidays, make-up working days and the last date they cover."""
    holidays = frozenset(date(d.year, d.month, d.day) for d in cc_constants.holidays)
    workdays = frozenset(date(d.year, d.month, d.day) for d in cc_constants.workdays)
    known = holidays | workdays
    if not known:
        raise RuntimeError("chinese-calendar ships no day tables")
    return holidays, workdays, date(max(d.year for d in known), 12, 31)


def known_data_until() -> date:
    """Dec 31 of the last year chinese-calendar has holiday data for."""
    return _base_days()[2]


def china_calendar(
    name: str = "china",
    *,
    hours: Sequence[tuple[time, time]] | None = None,
    extra_holidays: Iterable[date] = (),
    extra_workdays: Iterable[date] = (),
    known_until_override: date | None = None,
    law_years: int = LAW_YEARS,
) -> WorkingCalendar:
    """A mainland-China working calendar (Asia/Shanghai, Saturday/Sunday weekend).

    ``extra_holidays``/``extra_workdays`` (e.g. from the YAML override file) win over the
    package's tables and over the holidays by law; ``known_until_override`` extends
    ``known_until`` when the override file declares later years than the package covers (the
    holidays by law start after it). ``law_years`` years past ``known_until`` count the holidays
    by law and estimated substitutes (``calendar_law``; 0: none, weekends only). ``hours``
    defaults to the model's 09:00-12:00, 13:30-17:30.
    """
    base_holidays, base_workdays, base_known = _base_days()
    more_holidays, more_workdays = frozenset(extra_holidays), frozenset(extra_workdays)
    clash = more_holidays & more_workdays
    if clash:
        raise ValueError(f"dates both extra holidays and extra workdays: {sorted(clash)}")
    known = base_known if known_until_override is None else max(base_known, known_until_override)
    law = law_days(known, law_years) if law_years > 0 else None
    by_law = frozenset() if law is None else law.by_law - more_workdays
    estimated = frozenset() if law is None else law.estimated - more_workdays - by_law
    return WorkingCalendar(
        name=name,
        timezone="Asia/Shanghai",
        hours=DEFAULT_HOURS if hours is None else tuple((begin, end) for begin, end in hours),
        weekend=frozenset({5, 6}),
        holidays=(base_holidays | by_law | estimated | more_holidays) - more_workdays,
        workdays=(base_workdays | more_workdays) - more_holidays,
        known_until=known,
        by_law=by_law,
        estimated=estimated,
        law_until=None if law is None else law.until,
    )
