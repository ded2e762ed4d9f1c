"""What a calendar counts past its known day tables, in words: the loud warning's text.

Past ``known_until`` a China calendar (``engine.rules.calendars``) counts the statutory holidays
by law (``by_law``) and estimated weekday substitutes for holidays on weekends (``estimated``),
through ``law_until``; the make-up working days (调休) are unknown and none are counted; after
``law_until`` only weekends. This module says so, year by year, for the deadline warnings the
core emits and the rules checker's warning. Pure: only the calendar's own fields.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.domain.calendar.model import WorkingCalendar

_ONE_DAY = timedelta(days=1)


def _runs(days: list[date]) -> str:
    """Sorted dates of one year as MM-DD, consecutive ones joined: ``01-01, 02-05..02-08``."""
    out: list[str] = []
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] - days[j] == _ONE_DAY:
            j += 1
        first, last = days[i], days[j]
        out.append(f"{first:%m-%d}" if i == j else f"{first:%m-%d}..{last:%m-%d}")
        i = j + 1
    return ", ".join(out)


@lru_cache(maxsize=256)
def _year(by_law: frozenset[date], estimated: frozenset[date], law_until: date | None,
          year: int) -> str:
    if law_until is None or year > law_until.year:
        return (f"{year}: weekends only (no holidays computed by law"
                + (f" after {law_until}" if law_until is not None else "") + ")")
    law = sorted(d for d in by_law if d.year == year)
    guess = sorted(d for d in estimated if d.year == year)
    text = f"{year}: holidays by law {_runs(law) or 'none left'}"
    text += ("; estimated days off for holidays on a weekend (the next working day) "
             + (_runs(guess) or "none"))
    return text + "; make-up working days (调休) unknown, none counted"


def beyond_note(cal: WorkingCalendar, last: date) -> str:
    """What ``cal`` counts from the day after ``known_until`` through ``last``, year by year
    ("" when ``last`` is not past the known data)."""
    known = cal.known_until
    if known is None or last <= known:
        return ""
    first = (known + _ONE_DAY).year
    return " | ".join(_year(cal.by_law, cal.estimated, cal.law_until, year)
                      for year in range(first, last.year + 1))
