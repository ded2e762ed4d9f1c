"""What a decision returns: the new state, the events to emit, and what to count."""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

from engine.domain.events import Outbound
from engine.domain.state import IssueState

Result = Literal["accepted", "duplicate", "stale", "unfit", "rejected"]

# The metric families the core counts: a typo is a type error, not a KeyError in the shell.
Family = Literal[
    "whistle_issues_raised_total",
    "whistle_responses_total",
    "whistle_report_outcomes_total",
    "whistle_escalations_total",
    "whistle_deadline_warnings_total",
    "whistle_deadlines_missed_total",
    "whistle_ratings_total",
    "whistle_issues_closed_total",
    "whistle_issue_resolution_seconds",
    "whistle_claims_total",
    "whistle_points_awarded_total",
    "whistle_points_reversed_total",
    "whistle_urgings_total",
    "whistle_supervisions_total",
    "whistle_parks_total",
    "whistle_parked_seconds",
    "whistle_returns_total",
    "whistle_extensions_total",
]
FAMILIES: tuple[Family, ...] = get_args(Family)


class Count(NamedTuple):
    """One increment of a metric family (or one histogram observation), as the core decided it.

    The shell applies these verbatim, so metrics equal what the decisions say.
    """

    family: Family
    labels: tuple[tuple[str, str], ...] = ()
    value: float = 1.0


class Decision(NamedTuple):
    """What ``decide`` returns. A named tuple, not a model: one is made per decision, and the
    shell only reads its attributes (a pydantic model cost ~1.5 us to make, even unvalidated).
    """

    result: Result
    state: IssueState | None
    emit: tuple[Outbound, ...] = ()
    counts: tuple[Count, ...] = ()
    reason: str = ""  # why an event was unfit or rejected: a short code
    warnings: tuple[str, ...] = ()  # e.g. a deadline past the calendar's known data
