"""The public events: CloudEvents 1.0 envelopes around typed ``data`` (see docs/contract.md).

Inbound facts are past tense and come from upstream systems; outbound events are what the
engine emits on ``issues.lifecycle`` (and ``issue.closed`` also on ``issues.closed``).
Every model is frozen and strict: a string is not a number, a number is not a bool. The
envelope's ``time`` is the one lax field, so that RFC 3339 text parses after ``json.loads``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from engine.domain.ruleset import Level

ENGINE_SOURCE = "whistle/engine"

Id = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=4000)]
Time = Annotated[AwareDatetime, Field(strict=False)]
Severity = Literal["normal", "urgent", "emergency"]
ReporterKind = Literal["resident", "grid_worker", "party_member", "volunteer", "rider", "hotline"]
LimitKind = Literal["respond", "resolve", "report", "progress"]
EscalationReason = Literal["whistle", "respond_overdue", "resolve_overdue", "reopened_too_often"]
ReportOutcome = Literal["on_time", "late", "missed"]
# People who claim (认领) an issue to help with it; a subset of the reporter kinds (docs/claims.md)
ClaimantKind = Literal["party_member", "volunteer", "rider", "grid_worker", "resident"]
ClaimOutcome = Literal["released", "expired", "held"]
ReturnReason = Literal["not_ours", "wrong_place", "unclear_ownership", "overlapping_duties",
                       "other"]
ReturnDecision = Literal["accepted", "rejected"]
ExtensionDecision = Literal["approved", "rejected"]


class Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes (structured JSON mode). Extension attributes are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    specversion: Literal["1.0"] = "1.0"
    id: Id
    source: Id
    subject: Id
    time: Time
    datacontenttype: Literal["application/json"] = "application/json"


# --- inbound ------------------------------------------------------------------------------


class Reporter(Data):
    kind: ReporterKind
    id: Id | None = None


class Claimant(Data):
    """Who claims an issue: a kind and an opaque id (never a name or a phone number)."""

    kind: ClaimantKind
    id: Id


class Location(Data):
    address: Text | None = None
    lat: Annotated[float, Field(ge=-90, le=90, strict=False)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180, strict=False)] | None = None


class RaisedData(Data):
    grid: Id
    category: Id
    severity: Severity = "normal"
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text = ""
    reporter: Reporter | None = None
    location: Location | None = None
    departments: tuple[Id, ...] = ()


class AcknowledgedData(Data):
    unit: Id


class WhistledData(Data):
    unit: Id
    reason: Text = ""
    departments: tuple[Id, ...] = ()


class ReportedData(Data):
    department: Id


class ProgressedData(Data):
    unit: Id
    note: Text = ""
    claimant: Claimant | None = None  # the claimant whose work this is: their claim's act


class ResolvedData(Data):
    unit: Id
    note: Text = ""
    claimant: Claimant | None = None  # the claimant whose work this is: their claim's act


class ClaimedData(Data):
    claimant: Claimant
    note: Text = ""


class ClaimReleasedData(Data):
    claimant: Claimant
    note: Text = ""


class RatedData(Data):
    satisfied: bool
    score: Annotated[int, Field(ge=1, le=5)] | None = None
    note: Text = ""


class WithdrawnData(Data):
    reason: Text = ""


class ParkRequestedData(Data):
    """A holding unit asks to park (挂账) the issue: its limits pause once approved."""

    unit: Id
    reason: Annotated[str, Field(min_length=1, max_length=4000)]
    plan: Text = ""
    review_at: Time


class ParkDecidedData(Data):
    """The approver's answer to the pending park request (``review_at`` may move the review)."""

    decision: Literal["approved", "rejected"]
    approver: Id
    review_at: Time | None = None
    note: Text = ""


class UnparkedData(Data):
    """A holding unit or an approver resumes a parked issue: its limits run again."""

    unit: Id
    note: Text = ""


class ReturnRequestedData(Data):
    unit: Id
    reason_code: ReturnReason
    note: Text = ""
    suggested: Id | None = None  # the unit the returning holder thinks it belongs to


class ReturnDecidedData(Data):
    decision: ReturnDecision
    by: Id
    to: tuple[Id, ...] = ()  # when accepted: the new holders (default: the suggested unit)
    note: Text = ""


class ExtensionRequestedData(Data):
    """Either ``until`` (the new resolve limit) or ``working_days`` past the current one."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, json_schema_extra={
        "oneOf": [{"required": ["until"]}, {"required": ["working_days"]}]})

    unit: Id
    until: Time | None = None
    working_days: Annotated[int, Field(ge=1, le=366)] | None = None
    basis: Annotated[str, Field(min_length=1, max_length=4000)]  # the rule or plan relied on
    reason: Annotated[str, Field(min_length=1, max_length=4000)]

    @model_validator(mode="after")
    def _one_length(self) -> ExtensionRequestedData:
        if (self.until is None) == (self.working_days is None):
            raise ValueError("give exactly one of until and working_days")
        return self


class ExtensionDecidedData(Data):
    decision: ExtensionDecision
    approver: Id
    until: Time | None = None  # when approved: the new limit (default: as asked; not later)
    note: Text = ""


class IssueRaised(Envelope):
    type: Literal["issue.raised"] = "issue.raised"
    data: RaisedData


class IssueAcknowledged(Envelope):
    type: Literal["issue.acknowledged"] = "issue.acknowledged"
    data: AcknowledgedData


class IssueWhistled(Envelope):
    type: Literal["issue.whistled"] = "issue.whistled"
    data: WhistledData


class IssueReported(Envelope):
    type: Literal["issue.reported"] = "issue.reported"
    data: ReportedData


class IssueProgressed(Envelope):
    type: Literal["issue.progressed"] = "issue.progressed"
    data: ProgressedData


class IssueResolved(Envelope):
    type: Literal["issue.resolved"] = "issue.resolved"
    data: ResolvedData


class IssueRated(Envelope):
    type: Literal["issue.rated"] = "issue.rated"
    data: RatedData


class IssueWithdrawn(Envelope):
    type: Literal["issue.withdrawn"] = "issue.withdrawn"
    data: WithdrawnData


class IssueClaimed(Envelope):
    type: Literal["issue.claimed"] = "issue.claimed"
    data: ClaimedData


class IssueClaimReleased(Envelope):
    type: Literal["issue.claim_released"] = "issue.claim_released"
    data: ClaimReleasedData


class IssueParkRequested(Envelope):
    type: Literal["issue.park_requested"] = "issue.park_requested"
    data: ParkRequestedData


class IssueParkDecided(Envelope):
    type: Literal["issue.park_decided"] = "issue.park_decided"
    data: ParkDecidedData


class IssueUnparked(Envelope):
    type: Literal["issue.unparked"] = "issue.unparked"
    data: UnparkedData


class IssueReturnRequested(Envelope):
    type: Literal["issue.return_requested"] = "issue.return_requested"
    data: ReturnRequestedData


class IssueReturnDecided(Envelope):
    type: Literal["issue.return_decided"] = "issue.return_decided"
    data: ReturnDecidedData


class IssueExtensionRequested(Envelope):
    type: Literal["issue.extension_requested"] = "issue.extension_requested"
    data: ExtensionRequestedData


class IssueExtensionDecided(Envelope):
    type: Literal["issue.extension_decided"] = "issue.extension_decided"
    data: ExtensionDecidedData


InboundEvent = Annotated[
    IssueRaised
    | IssueAcknowledged
    | IssueWhistled
    | IssueReported
    | IssueProgressed
    | IssueResolved
    | IssueRated
    | IssueWithdrawn
    | IssueClaimed
    | IssueClaimReleased
    | IssueParkRequested
    | IssueParkDecided
    | IssueUnparked
    | IssueReturnRequested
    | IssueReturnDecided
    | IssueExtensionRequested
    | IssueExtensionDecided,
    Field(discriminator="type"),
]

INBOUND_TYPES: dict[str, type[Envelope]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        IssueRaised,
        IssueAcknowledged,
        IssueWhistled,
        IssueReported,
        IssueProgressed,
        IssueResolved,
        IssueRated,
        IssueWithdrawn,
        IssueClaimed,
        IssueClaimReleased,
        IssueParkRequested,
        IssueParkDecided,
        IssueUnparked,
        IssueReturnRequested,
        IssueReturnDecided,
        IssueExtensionRequested,
        IssueExtensionDecided,
    )
}


class DeadlineReached(BaseModel):
    """Internal fact: the clock passed ``due`` for the deadlines armed at state version ``token``.

    Not a CloudEvent and never on a public topic; the runtime makes it from a tick.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    issue_id: str
    due: datetime
    token: int


# --- outbound -----------------------------------------------------------------------------


class OutData(Data):
    sequence: int


class AssignedData(OutData):
    level: Level
    units: tuple[str, ...]
    lead: str | None = None
    respond_by: datetime | None = None
    resolve_by: datetime
    report_by: dict[str, datetime] = {}
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
