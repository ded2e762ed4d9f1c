"""Firing an issue's durable deadlines: limits (respond, resolve, report), their warnings,
progress intervals, the rating window, claims' expiries, urging steps and parking reviews.

``fire_due`` fires every deadline due by a moment, earliest first, each at its own due time
(so a decision is the same whether the runtime's tick came on time or late); ``fire`` is one
deadline's move: a warning or an overdue, and for a missed limit the climb the rule asks for,
or else the urging ladder. Moved out of ``engine.domain.lifecycle`` (whose moves it calls:
climb, close) unchanged.
"""

from __future__ import annotations

from datetime import datetime

from engine.domain import claims, parking, urging
from engine.domain.draft import Draft
from engine.domain.events import (
    IssueOverdue,
    IssueWarning,
    LimitKind,
    Outbound,
    OverdueData,
    WarningData,
)
from engine.domain.fast import make
from engine.domain.lifecycle import can_climb, climb, close, current_step
from engine.domain.state import Deadline
from engine.domain.workflow_hooks import resolve_missed

MAX_FIRINGS = 64  # deadlines fired in one decision; a guard against a rule that loops


def fire_due(draft: Draft, now: datetime) -> None:
    """Fire every deadline due at or before ``now``, earliest first, each at its own due time."""
    values = draft.state.__dict__  # (the draft's own state, changed in place by every move)
    for _ in range(MAX_FIRINGS):
        # the earliest due, a warning before its limit at the same time; the first such
        first: Deadline | None = None
        at = 0
        deadlines = values["deadlines"]
        for i, d in enumerate(deadlines):
            if d.due <= now and (first is None or d.due < first.due or (
                    d.due == first.due and d.warning and not first.warning)):
                first, at = d, i
        if first is None or values["status"] == "closed":
            return
        values["deadlines"] = deadlines[:at] + deadlines[at + 1 :]
        fire(draft, first)
        if values["claims"]:  # a move replaced the deadlines: the claims' go back
            claims.sync(draft, first.due)


def fire(draft: Draft, d: Deadline) -> None:
    s = draft.state
    if d.kind == "claim":
        claims.expire(draft, d)
        return
    if d.kind == "rating":
        close(draft, d.due, "resolved", None)
        return
    if d.kind == "urge" or d.kind == "review":  # supervision and parking: their own modules
        urging.fire(draft, d) if d.kind == "urge" else parking.fire_review(draft, d)
        return
    if d.warning:
        assert d.limit_due is not None
        send_limit(draft, IssueWarning, d.kind, d.unit, d.limit_due, d.due)
        draft.count("whistle_deadline_warnings_total", (("kind", d.kind), ("level", s.level)))
        return
    kind: LimitKind = d.kind
    if kind == "progress":
        send_limit(draft, IssueOverdue, "progress", d.unit, d.due, d.due)
        route = draft.rules.route(s.category)
        if route.progress_every is not None:
            due = draft.add(d.due, route.progress_every)
            again = Deadline("progress", d.unit, due, draft.version)
            draft.update(deadlines=(*draft.state.deadlines, again))
        return
    # a missed limit: respond, resolve or report
    send_limit(draft, IssueOverdue, kind, d.unit, d.due, d.due)
    draft.count("whistle_deadlines_missed_total", (("kind", kind), ("level", s.level)))
    draft.update(breaches=s.breaches + 1)
    if kind == "resolve" and s.extensions:
        resolve_missed(draft, d.due)
    # its warning, if not yet fired, is moot now
    draft.update(deadlines=tuple([
        x for x in draft.state.deadlines
        if not (x.warning and x.kind == d.kind and x.unit == d.unit)
    ]))
    step = current_step(draft)
    escalate = (d.kind == "respond" and (step is None or step.escalate_on_respond_overdue)) or (
        d.kind == "resolve" and (step is None or step.escalate_on_resolve_overdue)
    )
    if escalate and can_climb(draft):
        climb(draft, d.due, "respond_overdue" if d.kind == "respond" else "resolve_overdue")
    elif draft.rule.urging is not None:  # it stays with its holder: the urging ladder
        urging.missed(draft, d)


def send_limit(
    draft: Draft, cls: type[Outbound], kind: LimitKind, unit: str, due: datetime, at: datetime
) -> None:
    data_cls = WarningData if cls is IssueWarning else OverdueData
    draft.send(
        cls,
        make(data_cls, {
            "sequence": draft.version, "kind": kind, "unit": unit, "due": due,
            "level": draft.state.level, "rule": draft.rule.id,
        }),
        at,
    )
