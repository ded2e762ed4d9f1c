"""Extensions (延期): the holder asks for more time on its resolve limit; an approver decides.

``issue.extension_requested`` by the unit the resolve limit is on (the lead at the department
level), strictly before that limit, with ``until`` or ``working_days`` past it, a basis and a
reason. It must fit the rule: the longest tier, ``max`` approved extensions per assignment, and
``max_total`` past the limit first set for the assignment. The approvers that may decide it
(the first tier long enough, and every longer tier's) are told with ``issue.extension_pending``;
the limit runs on meanwhile.

``issue.extension_decided`` by one of those approvers: *approved* moves the unit's resolve limit
to ``until`` (as asked, or earlier) and re-arms its deadline and warning at this decision's
version; ``issue.extended`` tells upstream, which tells the resident. *Rejected* changes no
limit. The resident's clock (from the raise) never pauses: only the unit's limit moves, and an
extended limit that passes too is marked ``missed`` (overdue even after extension) and counted.
"""

from __future__ import annotations

from datetime import datetime

from engine.domain.calendar import Limit
from engine.domain.draft import Draft, utc
from engine.domain.events import (
    ExtendedData,
    ExtensionPendingData,
    IssueExtended,
    IssueExtensionDecided,
    IssueExtensionPending,
    IssueExtensionRequested,
)
from engine.domain.fast import make
from engine.domain.returns import above
from engine.domain.ruleset import Extensions
from engine.domain.state import ExtensionRecord, IssueState


def pending_extension(state: IssueState) -> ExtensionRecord | None:
    if state.extensions:
        last = state.extensions[-1]
        if last.decision is None and last.entered_at == state.entered_at and (
                last.level == state.level):
            return last
    return None


def _approved_here(state: IssueState) -> list[ExtensionRecord]:
    return [e for e in state.extensions
            if e.entered_at == state.entered_at and e.level == state.level
            and e.decision == "approved"]


def requested(draft: Draft, event: IssueExtensionRequested, at: datetime) -> str:
    s = draft.state
    spec = draft.rule.extensions
    data = event.data
    if spec is None:
        return "extensions_not_allowed"
    if data.unit not in s.units:
        return "not_holder"
    if data.unit != (s.lead or s.units[0]):
        return "not_lead"
    if at >= s.resolve_by:
        return "extension_after_deadline"  # filed only before the limit it extends
    if pending_extension(s) is not None:
        return "extension_pending"
    approved = _approved_here(s)
    if len(approved) >= spec.max:
        return "too_many_extensions"
    if data.until is not None:
        until = utc(data.until)
    else:
        assert data.working_days is not None  # the model requires one of the two
        until = draft.add(s.resolve_by, Limit(amount=data.working_days, unit="days",
                                              working=True))
    if until <= s.resolve_by:
        return "extension_not_later"
    first = approved[0].previous_resolve_by if approved else s.resolve_by
    if spec.max_total is not None and until > draft.add(first, spec.max_total):
        return "extension_over_total"
    approvers = _approvers(draft, spec, until)
    if not approvers:
        return "extension_too_long"  # longer than the longest tier
    # the basis and reason are kept for issue.extended, which upstream forwards to the resident
    record = ExtensionRecord(data.unit, s.level, at, s.entered_at, s.resolve_by, until, approvers,
                             data.basis, data.reason)
    draft.update(extensions=(*s.extensions, record))
    draft.count("whistle_extensions_total", (("unit", data.unit), ("stage", "requested")))
    draft.send(IssueExtensionPending, make(ExtensionPendingData, {
        "sequence": draft.version, "unit": data.unit, "level": s.level,
        "resolve_by": s.resolve_by, "until": until, "approvers": approvers,
        "rule": draft.rule.id,
    }), at)
    return ""


def _approvers(draft: Draft, spec: Extensions, until: datetime) -> tuple[str, ...]:
    """Who may approve moving the limit to ``until``: the first tier long enough, and every
    longer tier's approver (a higher authority may approve a short extension too)."""
    s = draft.state
    out: list[str] = []
    for tier in spec.tiers:
        if until <= draft.add(s.resolve_by, tier.up_to):
            who = above(s, s.level, tier.approver, spec.dispatcher)
            # nobody approves their own extension
            if who is not None and who not in out and who not in s.units:
                out.append(who)
    return tuple(out)


def decided(draft: Draft, event: IssueExtensionDecided, at: datetime) -> str:
    s = draft.state
    pending = pending_extension(s)
    data = event.data
    if pending is None:
        return "no_extension_pending"
    if data.approver not in pending.approvers:
        return "approver_not_allowed"
    if data.decision == "rejected":
        record = pending._replace(decision="rejected", approver=data.approver, decided_at=at)
        draft.update(extensions=(*s.extensions[:-1], record))
        draft.count("whistle_extensions_total", (("unit", pending.unit), ("stage", "rejected")))
        return ""
    until = utc(data.until) if data.until is not None else pending.requested_until
    if until > pending.requested_until:
        return "beyond_request"
    if until <= s.resolve_by:
        return "extension_not_later"
    record = pending._replace(decision="approved", approver=data.approver, decided_at=at,
                              until=until)
    holder = s.lead or s.units[0]
    previous = s.resolve_by
    kept = [d for d in s.deadlines if not (d.kind == "resolve" and d.unit == holder)]
    armed = draft.deadline("resolve", holder, at, until)
    draft.update(extensions=(*s.extensions[:-1], record), resolve_by=until,
                 deadlines=tuple(sorted((*kept, *armed), key=lambda d: d.due)))
    draft.count("whistle_extensions_total", (("unit", pending.unit), ("stage", "approved")))
    draft.send(IssueExtended, make(ExtendedData, {
        "sequence": draft.version, "unit": pending.unit, "level": s.level,
        "previous_resolve_by": previous, "resolve_by": until, "approver": data.approver,
        "basis": pending.basis, "reason": pending.reason, "count": len(_approved_here(draft.state)),
        "rule": draft.rule.id,
    }), at)
    return ""
