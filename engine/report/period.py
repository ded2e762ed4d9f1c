"""The report's period from the command line: ``YYYY-MM-DD`` (midnight in Asia/Shanghai) or an
RFC 3339 time with an offset. The end is exclusive."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ReportInputError(Exception):
    """Bad input to ``whistle report``: the message is for the operator, as is."""


def parse_when(text: str, flag: str) -> datetime:
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), SHANGHAI)
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ReportInputError(
            f"{flag} {text!r}: expected YYYY-MM-DD (midnight in Asia/Shanghai) or an RFC 3339 "
            "time with an offset, e.g. 2026-11-01T00:00:00+08:00")
    return value


def parse_period(start: str, end: str) -> tuple[datetime, datetime]:
    a, b = parse_when(start, "--from"), parse_when(end, "--to")
    if b <= a:
        raise ReportInputError(f"--to {end} must be after --from {start} (--to is exclusive)")
    return a, b
