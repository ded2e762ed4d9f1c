"""Returns (退单): a holder says an issue is not its business, and an adjudicator decides.

``issue.return_requested`` by a unit holding the issue (at the department level, its lead),
within the rule's window after the assignment began, at most ``max`` times per issue, one
return per unit and assignment, never two pending at once. The request is the unit's response
(like resolving, returning answers the issue). The adjudicator (``Returns.adjudicator``) is told
with ``issue.return_pending``. While it is pending the unit's limits run on, or, with
``clock: pauses``, stop: its deadlines are set aside in ``IssueState.return_paused``.

``issue.return_decided`` by that adjudicator: *accepted* re-assigns the issue on the same level
to ``to`` (default: the suggested unit) and the new holders' limits start (``issue.assigned``
with reason ``return_accepted``; the returned stay is kept in the path); *rejected* leaves the
issue with the clock it had (paused limits move on by the paused working time, announced by
``issue.assigned`` with reason ``return_rejected``).

A return accepted at the grid, village or street level corrects where the issue is (a wrong
place): the new grid, village or street, and what lies above it in the registry, become the
issue's. A request or decision that does not fit is unfit with a reason code, as every fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from engine.domain.calendar import Limit
from engine.domain.draft import Draft
from engine.domain.events import (
    AssignedData,
    IssueAssigned,
    IssueReturnDecided,
    IssueReturnPending,
    IssueReturnRequested,
    ReturnPendingData,
)
from engine.domain.fast import make
from engine.domain.lifecycle import enter, leave, respond, shared
from engine.domain.ruleset import Level, OrgRegistry
from engine.domain.state import Deadline, IssueState, ReturnRecord

LEVEL_ABOVE = "level_above"


def above(s: IssueState, level: Level, named: str, dispatcher: str | None) -> str | None:
    """Who ``named`` (``level_above`` or a unit id) is for issue ``s`` held at ``level``: a
    grid's village, a village's street, the departments' street (which called them in), a
    street's dispatcher (None if there is none)."""
    if named != LEVEL_ABOVE:
        return named
    if level == "grid":
        return s.village
    if level in ("village", "department"):
        return s.street
    return dispatcher


def pending_return(state: IssueState) -> ReturnRecord | None:
    """The return asked for at the current assignment and not decided yet, if any."""
    if state.returns:
        last = state.returns[-1]
        if last.decision is None and last.entered_at == state.entered_at and (
                last.level == state.level):
            return last
    return None


def requested(draft: Draft, event: IssueReturnRequested, at: datetime) -> str:
    s = draft.state
    spec = draft.rule.returns
    data = event.data
    if spec is None:
        return "returns_not_allowed"
    if data.unit not in s.units:
        return "not_holder"
    if s.level == "department" and data.unit != s.lead:
        return "not_lead"  # co-handlers (协办) answer to the lead, who returns the rung
    if pending_return(s) is not None:
        return "return_pending"
    if len(s.returns) >= spec.max:
        return "too_many_returns"  # the adjudicator's last assignment was for good
    if any(r.unit == data.unit and r.entered_at == s.entered_at for r in s.returns):
        return "already_returned"
    if at > draft.add(s.entered_at, spec.window):
        return "return_window_passed"
    adjudicator = above(s, s.level, spec.adjudicator, spec.dispatcher)
    if adjudicator is None or adjudicator in s.units:  # nobody adjudicates their own return
        return "no_adjudicator"
    registry = draft.rules.registry
    # a suggestion naming an unknown unit is ignored, as a raise's department hint is
    suggested = data.suggested if data.suggested and _known(registry, data.suggested) else None
    if s.level != "department" and s.response is None:
        respond(draft, at)  # returning it is answering it
    record = ReturnRecord(data.unit, s.level, data.reason_code, at, s.entered_at, adjudicator,
                          suggested)
    draft.update(returns=(*s.returns, record))
    if spec.pause:
        draft.update(return_paused=draft.state.deadlines, deadlines=())
    draft.count("whistle_returns_total", (("unit", data.unit), ("stage", "requested")))
    draft.send(IssueReturnPending, make(ReturnPendingData, {
        "sequence": draft.version, "unit": data.unit, "level": s.level,
        "reason_code": data.reason_code, "note": data.note, "suggested": suggested,
        "adjudicator": adjudicator, "paused": spec.pause, "rule": draft.rule.id,
    }), at)
    return ""


def decided(draft: Draft, event: IssueReturnDecided, at: datetime) -> str:
    s = draft.state
    pending = pending_return(s)
    data = event.data
    if pending is None:
        return "no_return_pending"
    if data.by != pending.adjudicator:
        return "not_adjudicator"
    if data.decision == "accepted":
        to = data.to or ((pending.suggested,) if pending.suggested else ())
        if not to:
            return "return_without_target"
        reason = _target_problem(draft, to)
        if reason:
            return reason
    else:
        to = ()
    record = pending._replace(decision=data.decision, by=data.by, decided_at=at, to=to)
    draft.update(returns=(*s.returns[:-1], record))
    draft.count("whistle_returns_total", (("unit", pending.unit), ("stage", data.decision)))
    if data.decision == "accepted":
        _reroute(draft, to, at)
    elif s.return_paused:
        _resume(draft, pending.requested_at, at)
    return ""


def _known(registry: OrgRegistry, unit: str) -> bool:
    return any(unit in table for table in (
        registry.grids, registry.villages, registry.streets, registry.departments))


def _target_problem(draft: Draft, to: tuple[str, ...]) -> str:
    """Why ``to`` cannot hold the issue at its level ("" if it can)."""
    s = draft.state
    registry = draft.rules.registry
    if s.level == "department":
        if any(d not in registry.departments for d in to):
            return "unknown_department"
        if to[0] == s.lead:
            return "return_to_same_unit"
        return ""
    tables: dict[str, Mapping[str, object]] = {
        "grid": registry.grids, "village": registry.villages, "street": registry.streets}
    table = tables[s.level]
    if len(to) != 1 or to[0] not in table:
        return f"not_a_{s.level}"
    if to[0] in s.units:
        return "return_to_same_unit"
    return ""


def _reroute(draft: Draft, to: tuple[str, ...], at: datetime) -> None:
    """The returned stay ends (kept in the path); the issue starts again on the same rung."""
    s = draft.state
    index = draft.rule.step_index(s.level)
    assert index is not None  # an issue on a level its rule no longer has cannot be returned
    entry = leave(draft, at)
    draft.update(path=(*s.path, entry), deadlines=(), return_paused=())
    registry = draft.rules.registry
    if s.level == "grid":
        village = registry.villages[registry.grids[to[0]].village]
        draft.update(grid=to[0], village=village.id, street=village.street)
    elif s.level == "village":
        draft.update(village=to[0], street=registry.villages[to[0]].street)
    elif s.level == "street":
        draft.update(street=to[0])
    enter(draft, index, at, "return_accepted", shared(to) if s.level == "department" else ())


def _resume(draft: Draft, since: datetime, at: datetime) -> None:
    """A rejected return under ``clock: pauses``: the set-aside deadlines come back, each moved
    on by the working time the return was pending, and the moved limits are announced."""
    s = draft.state
    seconds = int(draft.calendar.working_seconds_between(since, at))
    shift = Limit(amount=seconds, unit="seconds", working=True) if seconds > 0 else None

    def moved(due: datetime) -> datetime:
        return draft.add(due, shift) if shift is not None else due

    version = draft.version
    deadlines = tuple(sorted((
        Deadline(d.kind, d.unit, moved(d.due), version, d.warning,
                 moved(d.limit_due) if d.limit_due is not None else None)
        for d in s.return_paused), key=lambda d: d.due))
    report_by = {}
    reports = []
    for r in s.reports:
        if r.outcome is None:
            r = r._replace(due=moved(r.due))
            report_by[r.department] = r.due
        reports.append(r)
    respond_by = moved(s.respond_by) if s.respond_by is not None and s.response is None else (
        s.respond_by)
    resolve_by = moved(s.resolve_by)
    draft.update(deadlines=deadlines, return_paused=(), reports=tuple(reports),
                 respond_by=respond_by, resolve_by=resolve_by)
    draft.send(IssueAssigned, make(AssignedData, {
        "sequence": version, "level": s.level, "units": s.units, "lead": s.lead,
        "respond_by": respond_by, "resolve_by": resolve_by, "report_by": report_by,
        "rule": draft.rule.id, "rules_version": draft.rules.version, "reason": "return_rejected",
    }), at)
