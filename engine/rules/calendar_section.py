"""Stage 1 for ``calendars``: working hours, extra holidays and working days, data_until; and
the checker's warning when a calendar's holiday data ends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.domain.calendar import WorkingCalendar
from engine.rules.calendars import china_calendar
from engine.rules.errors import Mark
from engine.rules.schema import Reader
from engine.rules.sections import Ref
from engine.rules.yamlpos import Map, YNode


@dataclass(frozen=True)
class CalendarSpec:
    ref: Ref
    calendar: WorkingCalendar | None
    china: bool


_CHINA_KEYS = ("kind", "timezone", "hours", "extra_holidays", "extra_workdays", "data_until")
_ALWAYS_KEYS = ("kind", "timezone")
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def parse_calendars(node: YNode, r: Reader) -> list[CalendarSpec] | None:
    if not isinstance(node, Map):
        r.wrong(node, '"calendars"', "a mapping of calendar names to calendars")
        return None
    return [_calendar(Ref(key.name, key.mark), value, r) for key, value in node.entries]


def _calendar(ref: Ref, node: YNode, r: Reader) -> CalendarSpec:
    label = f'calendar "{ref.name}"'
    kind_node = node.get("kind") if isinstance(node, Map) else None
    kind = r.choice(kind_node, '"kind"', ("china", "always")) if kind_node is not None else None
    china = kind != "always"
    refused = {k: "does not apply to kind: always (24x7)" for k in _CHINA_KEYS
               if k not in _ALWAYS_KEYS} if kind == "always" else None
    values = r.fields(node, label, _CHINA_KEYS, ("kind",), refused)
    if values is None or kind is None:
        return CalendarSpec(ref, None, china)
    ok = True
    timezone = "Asia/Shanghai"
    if "timezone" in values:
        zone = r.text(values["timezone"], '"timezone"', "a time zone such as Asia/Shanghai")
        if zone is not None and _zone_ok(zone):
            timezone = zone
        else:
            ok = False
            if zone is not None:
                r.error(values["timezone"].mark, f'unknown time zone "{zone}"')
    if kind == "always":
        return CalendarSpec(ref, WorkingCalendar(name=ref.name, timezone=timezone, always=True)
                            if ok else None, False)
    hours = _hours(values["hours"], r) if "hours" in values else None
    holidays = _days(values.get("extra_holidays"), '"extra_holidays"', r)
    workdays = _days(values.get("extra_workdays"), '"extra_workdays"', r)
    until = r.day(values["data_until"], '"data_until"') if "data_until" in values else None
    ok = ok and hours != () and holidays is not None and workdays is not None and (
        until is not None or "data_until" not in values)
    if holidays and workdays:
        for day, mark in workdays.items():
            if day in holidays:
                ok = False
                r.error(mark, f"{day} is both an extra holiday (line {holidays[day].line}) and "
                              "an extra working day")
    if not ok:
        return CalendarSpec(ref, None, True)
    calendar = china_calendar(ref.name, hours=hours, extra_holidays=holidays or (),
                              extra_workdays=workdays or (), known_until_override=until)
    if timezone != calendar.timezone:
        calendar = calendar.model_copy(update={"timezone": timezone})
    return CalendarSpec(ref, calendar, True)


def _zone_ok(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _hours(node: YNode, r: Reader) -> tuple[tuple[time, time], ...] | None:
    """Working intervals, or () if they were refused."""
    items = r.items(node, '"hours"', 'a list such as ["09:00-12:00", "13:30-17:30"]')
    if items is None:
        return ()
    if not items:
        r.error(node.mark, '"hours" needs at least one interval such as "09:00-12:00"')
        return ()
    out: list[tuple[time, time]] = []
    for item in items:
        text = r.text(item, '"hours" item', 'an interval such as "09:00-12:00"')
        if text is None:
            return ()
        found = _HOURS.fullmatch(text.strip())
        numbers = [int(n) for n in found.groups()] if found else []
        if not found or numbers[0] > 23 or numbers[2] > 23 or numbers[1] > 59 or numbers[3] > 59:
            r.error(item.mark, f'bad working hours "{text}": write HH:MM-HH:MM, e.g. 09:00-12:00')
            return ()
        begin, end = time(numbers[0], numbers[1]), time(numbers[2], numbers[3])
        if not begin < end:
            r.error(item.mark, f'bad working hours "{text}": the interval must start before it '
                               "ends")
            return ()
        if out and begin < out[-1][1]:
            r.error(item.mark, f'bad working hours "{text}": intervals must be in order and must '
                               "not overlap")
            return ()
        out.append((begin, end))
    return tuple(out)


def _days(node: YNode | None, label: str, r: Reader) -> dict[date, Mark] | None:
    if node is None:
        return {}
    items = r.items(node, label, "a list of dates such as [2027-01-01]")
    if items is None:
        return None
    out: dict[date, Mark] = {}
    ok = True
    for item in items:
        day = r.day(item, f"{label} item")
        if day is None:
            ok = False
        elif day in out:
            r.error(item.mark, f"{day} is listed twice (first at line {out[day].line})")
        else:
            out[day] = item.mark
    return out if ok else None


def data_warning(spec: CalendarSpec, today: date, warn_days: int) -> str | None:
    """The warning for a China calendar whose holiday data has ended or ends within
    ``warn_days`` of ``today``: what it counts past the data (by law, estimated, unknown) for
    the years from the day after it through ``warn_days`` from today; None otherwise."""
    cal = spec.calendar
    until = cal.known_until if cal is not None else None
    if not spec.china or cal is None or until is None:
        return None
    days = (until - today).days
    if days >= warn_days:
        return None
    when = (f"ended {until} ({-days} days before {today})" if days < 0
            else f"ends {until} ({days} days from {today})")
    last = max(until + timedelta(days=1), today + timedelta(days=warn_days))
    return (f"calendar {spec.ref.name}: holiday data {when}; past it deadlines count "
            f"{cal.beyond_note(last)}; add the official schedule as extra_holidays/"
            "extra_workdays (and data_until) once the State Council publishes it")
