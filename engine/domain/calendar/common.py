"""What the public arithmetic (``model``), the working-interval index (``index``) and
the reference loops (``reference``) share: the scan bound, a few constants and the
check that every moment handed in is timezone-aware."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

# Upper bound on the days any day loop may scan (about ten years): a calendar with no working
# day at all, or an absurd limit, fails loudly instead of looping forever. The index answers
# only within the same bound, so both agree on where that failure starts.
MAX_DAYS = 3660

Hours = tuple[tuple[time, time], ...]
ONE_DAY = timedelta(days=1)
ZERO = timedelta(0)

# tzinfo types whose utcoffset() is never None: no need to call it to know a moment is aware.
_ALWAYS_AWARE = frozenset({ZoneInfo, timezone})


def require_aware(moment: datetime, what: str) -> None:
    tzinfo = moment.tzinfo
    if tzinfo is None or (type(tzinfo) not in _ALWAYS_AWARE and moment.utcoffset() is None):
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
