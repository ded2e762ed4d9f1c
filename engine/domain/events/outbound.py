"""Outbound events: what the engine emits on ``issues.lifecycle`` (``issue.closed`` also on
``issues.closed``, the points events on the ledger topic), docs/contract.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from engine.domain.events.common import (
    ENGINE_SOURCE,
    ClaimOutcome,
    Data,
    Envelope,
    EscalationReason,
    ExtensionDecision,
    Id,
    LimitKind,
    ReporterKind,
    ReportOutcome,
    ReturnDecision,
    ReturnReason,
    Severity,
)
from engine.domain.events.inbound import Claimant
from engine.domain.ruleset import Level

# --- outbound -----------------------------------------------------------------------------


class OutData(Data):
    sequence: int


class AssignedData(OutData):
    level: Level
    units: tuple[str, ...]
    lead: str | None = None
    respond_by: datetime | None = None
    resolve_by: datetime
    report_by: dict[str, datetime] = {}  # noqa: RUF012  (a pydantic field: copied per model)
    rule: str
    rules_version: str
    reason: str


class EscalatedData(OutData):
    from_level: Level
    from_units: tuple[str, ...]
    to_level: Level
    to_units: tuple[str, ...]
    reason: EscalationReason
    rule: str


class WarningData(OutData):
    kind: LimitKind
    unit: str
    due: datetime
    level: Level
    rule: str


class OverdueData(WarningData):
    pass


class ReopenedData(OutData):
    count: int
    level: Level
    units: tuple[str, ...]
    rule: str


class PathEntry(Data):
    level: Level
    units: tuple[str, ...]
    entered_at: datetime
    left_at: datetime | None = None
    reason: str
    response: ReportOutcome | None = None


class ReportRecord(Data):
    department: str
    due: datetime
    reported_at: datetime | None = None
    outcome: ReportOutcome | None = None


class ClaimRecord(Data):
    """A claim on the issue as it ended: released, expired, or held until the issue closed."""

    claimant: Claimant
    claimed_at: datetime
    acted_at: datetime | None = None  # the claimant's last act (see docs/claims.md)
    released_at: datetime | None = None
    expired_at: datetime | None = None
    outcome: ClaimOutcome


class ClaimExpiredData(OutData):
    claimant: Claimant
    claimed_at: datetime
    acted_at: datetime | None = None
    expired_at: datetime
    rule: str


class Person(Data):
    """Whom points are for: a kind and an opaque id."""

    kind: ReporterKind
    id: Id


class PointsAwardedData(OutData):
    award_id: str  # the envelope's id, repeated: what a reversal names
    issue_id: str
    rule: str  # the point rule's id
    person: Person
    role: Literal["reporter", "claimant"]
    points: Annotated[int, Field(ge=1)]
    on: Literal["resolved", "satisfied"]
    category: str
    severity: Severity
    street: str


class PointsReversedData(OutData):
    award_id: str  # the reversed award's event id
    issue_id: str
    rule: str
    person: Person
    role: Literal["reporter", "claimant"]
    points: Annotated[int, Field(ge=1)]  # as awarded: a consumer subtracts them
    reason: Literal["reopened", "withdrawn"]


class UrgedData(OutData):
    """A step of the rule's urging ladder (催办): the holder of a missed limit is urged."""

    step: int  # 1-based, in the rule's urging ladder
    kind: LimitKind  # the limit that was missed
    due: datetime  # when it was due
    level: Level
    units: tuple[str, ...]  # the units urged: the holder of the missed limit
    copy_to: tuple[str, ...] = ()  # the units copied (the level above, a named office)
    rule: str


class SupervisedData(UrgedData):
    """The urging ladder's last word: the issue becomes a supervision case (督办)."""


class ParkedData(OutData):
    """A park request approved (挂账): the unit's limits pause until it is unparked."""

    unit: str
    level: Level
    since: datetime
    review_at: datetime
    approver: str
    reason: str
    plan: str = ""
    rule: str


class ParkPendingData(OutData):
    """A park request waits for one of ``approvers`` (the unit's clock runs meanwhile)."""

    unit: str
    level: Level
    review_at: datetime
    approvers: tuple[str, ...]
    renewal: bool = False  # asked while parked: a new review date for the same period
    rule: str


class ParkRefusedData(OutData):
    unit: str
    level: Level
    approver: str
    rule: str


class ReviewDueData(OutData):
    """A parked issue's review date has come (the approver reviews it: resume or renew)."""

    unit: str
    level: Level
    since: datetime
    review_at: datetime
    approver: str
    rule: str


class ParkedPeriod(Data):
    """A period the issue was parked: its limits paused for ``paused_seconds`` of (working)
    time in the rule's calendar, and moved by that much when it was unparked."""

    unit: str
    since: datetime
    until: datetime
    approver: str
    paused_seconds: float


class ResumedData(OutData):
    """A parked issue unparked: the limits still pending moved by the paused (working) time."""

    unit: str
    level: Level
    period: ParkedPeriod
    rule: str


class ReturnEntry(Data):
    unit: str
    level: Level
    reason_code: ReturnReason
    requested_at: datetime
    adjudicator: str
    decision: ReturnDecision | None = None  # None: still pending when the issue moved on
    by: str | None = None
    decided_at: datetime | None = None
    to: tuple[str, ...] = ()


class ExtensionEntry(Data):
    unit: str
    level: Level
    requested_at: datetime
    previous_resolve_by: datetime
    requested_until: datetime
    decision: ExtensionDecision | None = None
    approver: str | None = None
    decided_at: datetime | None = None
    until: datetime | None = None
    missed: bool = False  # overdue even after the extension


class ReturnPendingData(OutData):
    unit: str
    level: Level
    reason_code: ReturnReason
    note: str = ""
    suggested: str | None = None
    adjudicator: str  # who must decide it (issue.return_decided ``by``)
    paused: bool  # the unit's limits are paused until it is decided
    rule: str


class ExtensionPendingData(OutData):
    unit: str
    level: Level
    resolve_by: datetime
    until: datetime
    approvers: tuple[str, ...]  # any of them may decide it (issue.extension_decided)
    rule: str


class ExtendedData(OutData):
    """For upstream to tell the resident (告知群众): the unit's resolve limit moved."""

    unit: str
    level: Level
    previous_resolve_by: datetime
    resolve_by: datetime
    approver: str
    basis: str
    reason: str
    count: int  # extensions approved for this assignment so far
    rule: str


class ClosedData(OutData):
    outcome: Literal["resolved", "withdrawn"]
    satisfied: bool | None
    closed_level: Level
    closed_units: tuple[str, ...]
    raised_at: datetime
    closed_at: datetime
    path: tuple[PathEntry, ...]
    reports: tuple[ReportRecord, ...]
    breaches: int
    on_time: bool
    # Beyond the contract's minimum, for exact assessment reports without a second source:
    street: str
    village: str
    grid: str
    category: str
    severity: Severity
    whistles: int
    reopens: int
    rule: str
    rules_version: str
    claims: tuple[ClaimRecord, ...] = ()
    # Supervision and parking (issue 11 items 3 and 4): urging steps sent, whether the issue
    # became a supervision case, and the periods it was parked.
    urgings: int = 0
    supervised: bool = False
    parked: tuple[ParkedPeriod, ...] = ()
    returns: tuple[ReturnEntry, ...] = ()
    extensions: tuple[ExtensionEntry, ...] = ()


class Outbound(Envelope):
    source: Id = ENGINE_SOURCE
    type: str  # narrowed to one Literal by each outbound event
    data: OutData  # and its data to that event's model


class IssueAssigned(Outbound):
    type: Literal["issue.assigned"] = "issue.assigned"
    data: AssignedData


class IssueEscalated(Outbound):
    type: Literal["issue.escalated"] = "issue.escalated"
    data: EscalatedData


class IssueWarning(Outbound):
    type: Literal["issue.warning"] = "issue.warning"
    data: WarningData


class IssueOverdue(Outbound):
    type: Literal["issue.overdue"] = "issue.overdue"
    data: OverdueData


class IssueReopened(Outbound):
    type: Literal["issue.reopened"] = "issue.reopened"
    data: ReopenedData


class IssueClosed(Outbound):
    type: Literal["issue.closed"] = "issue.closed"
    data: ClosedData


class IssueClaimExpired(Outbound):
    type: Literal["issue.claim_expired"] = "issue.claim_expired"
    data: ClaimExpiredData


class PointsAwarded(Outbound):
    """On ``points.ledger``, not ``issues.lifecycle``; ``id`` is deterministic (docs/points.md)."""

    type: Literal["points.awarded"] = "points.awarded"
    data: PointsAwardedData


class PointsReversed(Outbound):
    """On ``points.ledger``: takes back the award ``data.award_id`` names."""

    type: Literal["points.reversed"] = "points.reversed"
    data: PointsReversedData


class IssueUrged(Outbound):
    type: Literal["issue.urged"] = "issue.urged"
    data: UrgedData


class IssueSupervised(Outbound):
    type: Literal["issue.supervised"] = "issue.supervised"
    data: SupervisedData


class IssueParked(Outbound):
    type: Literal["issue.parked"] = "issue.parked"
    data: ParkedData


class IssueParkPending(Outbound):
    type: Literal["issue.park_pending"] = "issue.park_pending"
    data: ParkPendingData


class IssueParkRefused(Outbound):
    type: Literal["issue.park_refused"] = "issue.park_refused"
    data: ParkRefusedData


class IssueReviewDue(Outbound):
    type: Literal["issue.review_due"] = "issue.review_due"
    data: ReviewDueData


class IssueResumed(Outbound):
    type: Literal["issue.resumed"] = "issue.resumed"
    data: ResumedData


class IssueReturnPending(Outbound):
    type: Literal["issue.return_pending"] = "issue.return_pending"
    data: ReturnPendingData


class IssueExtensionPending(Outbound):
    type: Literal["issue.extension_pending"] = "issue.extension_pending"
    data: ExtensionPendingData


class IssueExtended(Outbound):
    type: Literal["issue.extended"] = "issue.extended"
    data: ExtendedData


OutboundEvent = Annotated[
    IssueAssigned | IssueEscalated | IssueWarning | IssueOverdue | IssueReopened | IssueClosed
    | IssueClaimExpired | PointsAwarded | PointsReversed
    | IssueUrged | IssueSupervised | IssueParkPending | IssueParked | IssueParkRefused
    | IssueReviewDue | IssueResumed
    | IssueReturnPending | IssueExtensionPending | IssueExtended,
    Field(discriminator="type"),
]
LEDGER_TYPES = frozenset(("points.awarded", "points.reversed"))

OUTBOUND_TYPES: dict[str, type[Outbound]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        IssueAssigned,
        IssueEscalated,
        IssueWarning,
        IssueOverdue,
        IssueReopened,
        IssueClosed,
        IssueClaimExpired,
        PointsAwarded,
        PointsReversed,
        IssueUrged,
        IssueSupervised,
        IssueParkPending,
        IssueParked,
        IssueParkRefused,
        IssueReviewDue,
        IssueResumed,
        IssueReturnPending,
        IssueExtensionPending,
        IssueExtended,
    )
}
