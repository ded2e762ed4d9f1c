"""What the public arithmetic (``calendar``), the working-interval index (``calendar_index``) and
the reference loops (``calendar_reference``) share: the scan bound, a few constants and the
check that every moment handed in is timezone-aware."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

# Upper bound on the days any day loop may scan (about ten years): a calendar with no working
# day at all, or an absurd limit, fails loudly instead of looping forever. The index answers
# only within the same bound, so both agree on where that failure starts.
_MAX_DAYS = 3660

_Hours = tuple[tuple[time, time], ...]
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)

# tzinfo types whose utcoffset() is never None: no need to call it to know a moment is aware.
_ALWAYS_AWARE = frozenset({ZoneInfo, timezone})


def _require_aware(moment: datetime, what: str) -> None:
    tzinfo = moment.tzinfo
    if tzinfo is None or (type(tzinfo) not in _ALWAYS_AWARE and moment.utcoffset() is None):
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
