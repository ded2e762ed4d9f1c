"""The HTTP API's response models: what ``/api/issues`` answers (``schemas/openapi.yaml``).

Only what the state holds and the contract's events already carry: ids (opaque), levels,
times, outcomes. The state holds no reporter, title, description or location, so none of that
can reach a response.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.domain.ruleset import Level

Status = Literal["open", "resolved", "closed"]
LimitKind = Literal["respond", "resolve", "report", "progress", "rating"]
Outcome = Literal["on_time", "late", "missed"]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Limit(Model):
    """A deadline armed on the issue now (or a pre-breach warning point of one)."""

    kind: LimitKind
    unit: str = Field(description="the unit the limit is on")
    due: datetime = Field(description="when it falls due (a warning: when the warning fires)")
    warning: bool = Field(description="a warning point before the limit, not the limit itself")
    limit_due: datetime | None = Field(None, description="a warning's limit's due time")


class Missed(Model):
    """A limit of the issue's current level whose due time has passed and that was not met."""

    kind: Literal["respond", "resolve", "report"]
    unit: str
    due: datetime


class Step(Model):
    """A level the issue has left (the path so far)."""

    level: Level
    units: list[str]
    entered_at: datetime
    left_at: datetime | None
    reason: str = Field(description="why the issue came to this level")
    response: Outcome | None = Field(description="the holder's response at this level")


class Report(Model):
    """A department's report (报到) due on the issue, or given."""

    department: str
    due: datetime
    reported_at: datetime | None
    outcome: Outcome | None = Field(description="null while still due; settled at closure")


class Issue(Model):
    """One issue as its worker holds it now."""

    id: str
    status: Status
    version: int = Field(description="the state's version (the events' data.sequence)")
    partition: int = Field(description="the partition of issues.events that holds it")
    raised_at: datetime
    grid: str
    village: str
    street: str
    category: str
    severity: Literal["normal", "urgent", "emergency"]
    rule: str
    rules_version: str
    level: Level = Field(description="the level holding the issue now")
    units: list[str] = Field(description="the holding units")
    lead: str | None = Field(description="the lead department at the department level")
    held_since: datetime = Field(description="when the issue came to its current level")
    entry_reason: str
    response: Outcome | None = Field(description="this level's response, once given")
    respond_by: datetime | None
    resolve_by: datetime
    limits: list[Limit] = Field(description="every armed deadline, earliest first")
    overdue: bool = Field(description="a limit of the current level has passed unmet")
    missed: list[Missed] = Field(description="the current level's limits passed unmet")
    path: list[Step] = Field(description="the levels already left, oldest first")
    reports: list[Report]
    claims: list[dict[str, Any]] = Field(
        description="who claimed the issue to help (认领); empty until claims exist")
    whistles: int
    reopens: int
    breaches: int = Field(description="limits missed so far")
    resolved_at: datetime | None
    closed_at: datetime | None


class IssuePage(Model):
    """One page of ``GET /api/issues``: issues in id order, and where the next page starts."""

    items: list[Issue]
    total: int = Field(description="issues matching the filters, over every page")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null: "
                                                "this is the last")
    as_of: datetime = Field(description="the engine's clock when answered (overdue is "
                                        "judged at this time)")
    partitions: list[int] = Field(description="the partitions whose issues were searched")


class Problem(Model):
    """An error: 400 (a bad query parameter), 404 (no such issue), 503 (not every partition
    answered: a worker is starting, rebalancing or unreachable; retry)."""

    error: str
    detail: str
