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
- ``known_until`` is the last date the day tables are known for; a deadline past it is flagged
  by ``beyond_known``: the caller must warn loudly. Past it a China calendar's tables hold the
  holidays by law and estimated weekday substitutes (``by_law``, ``estimated``, through
  ``law_until``) but no make-up working days; ``beyond_note`` says so for the warning
  (``beyond``). After ``law_until``, weekends only.

Boundaries: working intervals are half-open ``[start, end)`` for deciding whether a moment is
inside working time (a start at exactly 17:30 is outside and moves to the next opening), but a
working-time deadline that consumes an interval to its very end is that end (10:00 plus 2
working hours with a 12:00 lunch break is 12:00, not 13:30). All arithmetic is done on UTC
instants; results are aware datetimes in the calendar's zone.

This package's public face is what it exports here (``Limit``, ``Unit``, ``WorkingCalendar``,
``UtcArithmetic``, ``always_calendar``, ``DEFAULT_HOURS``); the rest of the engine imports
nothing else from it. The core, which keeps every time in UTC, calls ``WorkingCalendar.utc()``:
``add``/``point`` answered as UTC instants, computed in UTC where the zone keeps one offset
(``index.UtcIndex``, ``zone.Zone.wall_add_utc``), exactly equal to the public operations.
Speed: a decision calls ``add``/``point`` several times and must cost about 10 µs in all. The
work is split by responsibility:
- ``model``: the models, the public arithmetic and the core's UTC arithmetic;
- ``index``: the precomputed working-interval index, the fast path (two bisections for
  ``N working hours``, one for ``N working days``), built lazily per calendar;
- ``zone``: where a zone provably keeps one UTC offset, so wall time needs no conversion (wall
  limits and 24x7 calendars never build an index);
- ``reference``: the day-by-day loops (``slow_*``), the reference the tests compare the fast
  path against and the fallback for whatever falls outside the index;
- ``common``: the scan bound and awareness check they all share;
- ``beyond``: the warning's words for what is counted past the known data.
"""

from engine.domain.calendar.model import (
    DEFAULT_HOURS,
    Limit,
    Unit,
    UtcArithmetic,
    WorkingCalendar,
    always_calendar,
)

__all__ = ["DEFAULT_HOURS", "Limit", "Unit", "UtcArithmetic", "WorkingCalendar", "always_calendar"]
