"""Inbound facts: what upstream systems publish to ``issues.events`` (docs/contract.md), and the
internal ``DeadlineReached``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.domain.events.common import (
    ClaimantKind,
    Data,
    Envelope,
    ExtensionDecision,
    Id,
    ReporterKind,
    ReturnDecision,
    ReturnReason,
    Severity,
    Text,
    Time,
)

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
