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

DeadlineKind = Literal["respond", "resolve", "report", "progress", "rating"]
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
    unfit: int = 0
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
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
