"""An issue's state: everything the core needs to decide its next step, and nothing more.

The state is a frozen value; every decision returns a new one with ``version`` bumped. Deadlines
are data here (when due, and the ``token`` = the version that armed them), never timers: the
runtime wakes the core with ``DeadlineReached`` and a stale token changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from engine.domain.events import ReportOutcome, Severity
from engine.domain.ruleset import Level

DeadlineKind = Literal[
    "respond", "resolve", "report", "progress", "rating", "claim", "urge", "review",
]
Status = Literal["open", "resolved", "closed"]


class Deadline(NamedTuple):
    """A limit's due time (or its warning point), armed at state version ``token``.

    A named tuple, not a model: decisions make several of these, and a tuple costs a tenth.
    """

    kind: DeadlineKind
    unit: str
    due: datetime
    token: int
    warning: bool = False  # a pre-breach warning point of the limit due at ``limit_due``
    limit_due: datetime | None = None


class PathStep(NamedTuple):
    """A level the issue has left: who held it, when, why it came there, and its response.

    A named tuple (a JSON array when stored), not a model: a third of the memory of an open
    issue that has climbed. ``issue.closed`` carries these as ``PathEntry`` objects.
    """

    level: Level
    units: tuple[str, ...]
    entered_at: datetime
    left_at: datetime | None
    reason: str
    response: ReportOutcome | None = None


class ReportDue(NamedTuple):
    """A department's report (报到) the issue waits for, or got (``ReportRecord`` when emitted)."""

    department: str
    due: datetime
    reported_at: datetime | None = None
    outcome: ReportOutcome | None = None


class Claim(NamedTuple):
    """A claim (认领) on the issue: who, since when, their last act, and how it ended.

    ``expires_at`` is the armed expiry (its deadline, kind ``claim``, has token ``token``);
    None while the claim's clock is stopped (the issue awaits its rating) or once it ended.
    """

    kind: str
    id: str
    claimed_at: datetime
    acted_at: datetime | None = None
    expires_at: datetime | None = None
    token: int = 0
    released_at: datetime | None = None
    expired_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None and self.expired_at is None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


class Award(NamedTuple):
    """Points awarded for the issue that a reopening or a withdrawal would take back."""

    event_id: str
    rule: str
    role: str  # reporter | claimant
    kind: str
    id: str
    points: int


class Urging(NamedTuple):
    """The urging ladder under way for a missed limit (``engine.domain.urging``): ``sent``
    steps sent so far, the last at ``last_at``. The next step is the issue's ``urge`` deadline."""

    kind: Literal["respond", "resolve"]
    unit: str
    level: Level
    due: datetime  # the missed limit's due time: steps count from it
    sent: int = 0
    last_at: datetime | None = None


class ParkRequest(NamedTuple):
    """A park request waiting for its approver (the clock runs meanwhile)."""

    unit: str
    requested_at: datetime
    review_at: datetime
    reason: str
    plan: str = ""


class Parked(NamedTuple):
    """The issue is parked (``engine.domain.parking``): ``paused`` holds the limits' deadlines
    as they were when it was parked; they move by the paused working time when it resumes."""

    unit: str
    since: datetime
    review_at: datetime
    approver: str
    reason: str
    plan: str
    paused: tuple[Deadline, ...] = ()


class ParkedSpan(NamedTuple):
    """A period the issue was parked (``issue.closed`` carries these as ``ParkedPeriod``)."""

    unit: str
    since: datetime
    until: datetime
    approver: str
    paused_seconds: float


class ReturnRecord(NamedTuple):
    """A return (退单) asked for by the holder of the assignment that began at ``entered_at``,
    and its adjudication once decided."""

    unit: str
    level: Level
    reason_code: str
    requested_at: datetime
    entered_at: datetime  # the assignment returned (the holder's arrival on its level)
    adjudicator: str
    suggested: str | None = None
    decision: Literal["accepted", "rejected"] | None = None
    by: str | None = None
    decided_at: datetime | None = None
    to: tuple[str, ...] = ()


class ExtensionRecord(NamedTuple):
    """An extension (延期) of the resolve limit of the assignment that began at ``entered_at``."""

    unit: str
    level: Level
    requested_at: datetime
    entered_at: datetime
    previous_resolve_by: datetime  # the limit when it was asked for
    requested_until: datetime
    approvers: tuple[str, ...]  # who may approve what was asked
    basis: str = ""
    reason: str = ""
    decision: Literal["approved", "rejected"] | None = None
    approver: str | None = None
    decided_at: datetime | None = None
    until: datetime | None = None
    missed: bool = False  # the extended limit passed too: overdue even after extension


class IssueState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    issue_id: str
    version: int
    status: Status
    raised_at: datetime
    grid: str
    village: str
    street: str
    category: str
    severity: Severity
    hint_departments: tuple[str, ...] = ()
    rule: str
    rules_version: str

    # where the issue is now
    level: Level
    units: tuple[str, ...]
    lead: str | None = None
    entered_at: datetime
    entry_reason: str
    respond_by: datetime | None = None
    resolve_by: datetime
    response: ReportOutcome | None = None  # this level's acknowledgement, once given

    # history and tallies
    path: tuple[PathStep, ...] = ()  # the levels already left
    reports: tuple[ReportDue, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    whistles: int = 0
    reopens: int = 0
    breaches: int = 0
    resolved_at: datetime | None = None
    closed_at: datetime | None = None

    # people (docs/claims.md, docs/points.md): the reporter, when the raise named one with an id
    # (kind, id); the claims made; the points awarded that could still be reversed
    reporter: tuple[str, str] | None = None
    claims: tuple[Claim, ...] = ()
    awards: tuple[Award, ...] = ()
    # supervision (urging ladder) and parking; all optional, so older stored states read
    urging: Urging | None = None
    urged: int = 0  # urging steps sent, over the issue's life
    supervised: bool = False
    park_request: ParkRequest | None = None
    parked: Parked | None = None
    parked_spans: tuple[ParkedSpan, ...] = ()
    # returns and extensions (engine.domain.returns, engine.domain.extensions)
    returns: tuple[ReturnRecord, ...] = ()
    extensions: tuple[ExtensionRecord, ...] = ()
    return_paused: tuple[Deadline, ...] = ()  # the level's deadlines while a return pauses them

    # idempotence: the inbound event keys seen, and the key of the last trigger applied (a
    # deadline's, which is not among ``seen``). What a trigger produced is not kept here: the
    # shell stores it beside the state (its outbox) and re-sends it on redelivery.
    seen: tuple[str, ...] = ()
    last_trigger: str = ""

    @property
    def next_due(self) -> datetime | None:
        return min((d.due for d in self.deadlines), default=None)
