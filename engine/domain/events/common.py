"""What inbound and outbound events share: the CloudEvents envelope, ``Data``, the field types."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
