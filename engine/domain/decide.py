"""``decide(state, event, rules, now)``: the whole lifecycle of an issue as one pure function.

Rejected alternatives: a class per state (the states share most data and the transitions are
few), and an event-sourced aggregate replaying its history (the table holds one snapshot per
issue; replaying would cost memory and time on every event). Here an issue is one frozen
snapshot; a decision returns the next snapshot, the events to emit and the counts to add.

Rules of the game:
- A duplicate event (same CloudEvents source and id) changes nothing; if it was the last event
  applied, the decision re-sends what it produced (the runtime may have crashed between writing
  the state and sending the events).
- A ``DeadlineReached`` whose token no longer arms a deadline is stale and changes nothing.
- Before an inbound fact is applied, every deadline due before its time fires (at its own due
  time), so the outcome does not depend on how promptly the runtime's ticks came.
- An event that does not fit the state is counted in the state and changes nothing else.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.domain.decision import Decision, Result
from engine.domain.events import (
    DeadlineReached,
    Envelope,
    IssueAcknowledged,
    IssueProgressed,
    IssueRaised,
    IssueRated,
    IssueReported,
    IssueResolved,
    IssueWhistled,
    IssueWithdrawn,
)
from engine.domain.fast import build, replace
from engine.domain.ruleset import Facts, Rule, Ruleset
from engine.domain.state import Deadline, IssueState
from engine.domain.transitions import (
    Draft,
    can_climb,
    climb,
    close,
    departments_for,
    enter,
    fire_due,
    next_index,
    reopen,
    retime,
    utc,
)

Event = Envelope | DeadlineReached

_TICK = timedelta(microseconds=1)
MAX_SEEN = 256  # event keys kept per issue; far above any real issue's event count


def event_key(event: Event) -> str:
    if isinstance(event, DeadlineReached):
        return f"deadline:{event.token}:{event.due.isoformat()}"
    return f"{event.source}\x00{event.id}"


def decide(
    state: IssueState | None, event: Event, rules: Ruleset, now: datetime, *, follow: bool = False
) -> Decision:
    """Decide what ``event`` does to the issue in ``state`` under ``rules`` at time ``now``.

    ``follow``: the pinning policy. False (the default): an issue keeps the limits in force
    when it entered its current level; new rules apply from its next level. True: at its next
    decision under a new rules version, the current level is re-timed by the new rules.
    """
    key = event_key(event)
    if state is not None and (key in state.seen or key == state.last_trigger):
        resend = state.last_emitted if key == state.last_trigger else ()
        return build(Decision, result="duplicate", state=state, emit=resend)
    if state is None:
        if isinstance(event, IssueRaised):
            return _raise(event, rules, key)
        return build(Decision, result="unfit", state=None, reason="unknown_issue")
    if isinstance(event, DeadlineReached):
        if not any(d.token == event.token and d.due == event.due for d in state.deadlines):
            return build(Decision, result="stale", state=state)
        draft = _draft(state, rules)
        _follow(draft, follow, utc(now))
        fire_due(draft, utc(now))
        return _done(draft, key, "accepted", "")
    if state.status == "closed":
        return _unfit(state, key, "closed")
    assert isinstance(event, Envelope)
    draft = _draft(state, rules)
    at = utc(event.time)
    _follow(draft, follow, min(at, utc(now)))
    fire_due(draft, _before(min(at, utc(now))))
    reason = _apply(draft, event, at)
    return _done(draft, key, "unfit" if reason else "accepted", reason)


def _before(at: datetime) -> datetime:
    # deadlines due strictly before the fact fire first; a fact exactly at the limit is on time
    return at - _TICK


def _follow(draft: Draft, follow: bool, at: datetime) -> None:
    s = draft.state
    if follow and s.rules_version != draft.rules.version and s.status != "closed":
        retime(draft, at)


def _draft(state: IssueState, rules: Ruleset) -> Draft:
    rule = rules.rule(state.rule) or _pinned_fallback(state, rules)
    return Draft(state, rules, rule, state.version + 1)


def _pinned_fallback(state: IssueState, rules: Ruleset) -> Rule:
    # The issue's rule is gone from a newer rule set: it follows the rule its facts match now.
    return rules.match(
        Facts(category=state.category, severity=state.severity, reporter="unknown", source="",
              street=state.street)
    )


def _done(draft: Draft, key: str, result: Result, reason: str) -> Decision:
    # An unfit fact is recorded (seen, counted) and changes nothing else; what deadlines due
    # before it produced is kept and emitted.
    state = draft.state
    seen = state.seen if key.startswith("deadline:") else (*state.seen[-MAX_SEEN + 1 :], key)
    emitted = tuple(draft.emit)
    changed = bool(emitted) or result == "accepted"
    draft.update(
        version=draft.version if changed else state.version,
        seen=seen,
        last_trigger=key,
        last_emitted=emitted,
        unfit=state.unfit + (result == "unfit"),
    )
    return build(Decision,
        result=result, state=state, emit=emitted, counts=tuple(draft.counts), reason=reason,
        warnings=tuple(draft.warnings),
    )


def _unfit(state: IssueState, key: str, reason: str) -> Decision:
    seen = (*state.seen[-MAX_SEEN + 1 :], key)
    return build(Decision,
        result="unfit",
        state=replace(state, seen=seen, unfit=state.unfit + 1),
        reason=reason,
    )


def _raise(event: IssueRaised, rules: Ruleset, key: str) -> Decision:
    data = event.data
    at = utc(event.time)
    grid = rules.registry.grids.get(data.grid)
    if grid is None:
        return build(Decision, result="rejected", state=None, reason="unknown_grid")
    village = rules.registry.villages[grid.village]
    facts = build(
        Facts,
        category=data.category, severity=data.severity,
        reporter=data.reporter.kind if data.reporter else "unknown", source=event.source,
        street=village.street,
    )
    rule = rules.match(facts)
    state = build(
        IssueState,
        issue_id=event.subject, version=0, status="open", raised_at=at, grid=grid.id,
        village=village.id, street=village.street, category=data.category,
        severity=data.severity, rule=rule.id,
        # a hint naming an unknown department is ignored: labels stay a bounded set
        hint_departments=tuple(d for d in data.departments if d in rules.registry.departments),
        rules_version=rules.version, level=rule.ladder[0].level, units=(),
        entered_at=at, entry_reason="raised", resolve_by=at,
    )
    draft = Draft(state, rules, rule, 1, own=True)
    draft.count("whistle_issues_raised_total", street=village.street, category=data.category)
    enter(draft, 0, at, "raised")
    return _done(draft, key, "accepted", "")


def _apply(draft: Draft, event: Envelope, at: datetime) -> str:
    """Apply one inbound fact; return "" if it fit, else the reason it did not."""
    s = draft.state
    if s.status == "closed":
        return "closed"
    if isinstance(event, IssueWithdrawn):
        close(draft, at, "withdrawn", None)
        return ""
    if isinstance(event, IssueRated):
        return _rated(draft, event, at)
    if s.status != "open":
        return "not_open"
    if isinstance(event, IssueAcknowledged):
        return _acknowledged(draft, event.data.unit, at)
    if isinstance(event, IssueWhistled):
        return _whistled(draft, event, at)
    if isinstance(event, IssueReported):
        return _reported(draft, event.data.department, at)
    if isinstance(event, IssueProgressed):
        return _progressed(draft, event.data.unit, at)
    if isinstance(event, IssueResolved):
        return _resolved(draft, event.data.unit, at)
    if isinstance(event, IssueRaised):
        return "already_raised"
    return "unknown_type"


def _acknowledged(draft: Draft, unit: str, at: datetime) -> str:
    s = draft.state
    if unit not in s.units:
        return "not_holder"
    if s.level == "department":
        return "departments_report"
    if s.response is not None:
        return "already_acknowledged"
    _respond(draft, at)
    return ""


def _respond(draft: Draft, at: datetime) -> None:
    s = draft.state
    outcome = "on_time" if s.respond_by is None or at <= s.respond_by else "late"
    draft.count("whistle_responses_total", level=s.level, outcome=outcome, street=s.street)
    draft.update(
        response=outcome,
        deadlines=tuple(d for d in s.deadlines if d.kind != "respond"),
    )


def _whistled(draft: Draft, event: IssueWhistled, at: datetime) -> str:
    s = draft.state
    if event.data.unit not in s.units:
        return "not_holder"
    if not can_climb(draft):
        return "top_of_ladder"
    hint = event.data.departments
    index = next_index(draft)
    assert index is not None
    if draft.rule.ladder[index].level == "department":
        depts, _ = departments_for(draft, hint)
        if any(d not in draft.rules.registry.departments for d in depts):
            return "unknown_department"
    draft.update(whistles=s.whistles + 1)
    climb(draft, at, "whistle", hint)
    return ""


def _reported(draft: Draft, department: str, at: datetime) -> str:
    s = draft.state
    pending = [r for r in s.reports if r.department == department and r.outcome is None]
    if not pending:
        return "no_report_due"
    record = pending[0]
    outcome = "on_time" if at <= record.due else "late"
    draft.count("whistle_report_outcomes_total", department=department, outcome=outcome)
    reports = tuple(
        replace(r, reported_at=at, outcome=outcome) if r is record else r
        for r in s.reports
    )
    deadlines = tuple(d for d in s.deadlines if not (d.kind == "report" and d.unit == department))
    draft.update(reports=reports, deadlines=deadlines)
    return ""


def _progressed(draft: Draft, unit: str, at: datetime) -> str:
    s = draft.state
    if unit not in s.units:
        return "not_holder"
    route = draft.rules.route(s.category)
    if s.level == "department" and route.progress_every is not None:
        again = Deadline(kind="progress", unit=s.lead or unit,
                         due=draft.add(at, route.progress_every), token=draft.version)
        draft.update(deadlines=(*(d for d in s.deadlines if d.kind != "progress"), again))
    return ""


def _resolved(draft: Draft, unit: str, at: datetime) -> str:
    s = draft.state
    if unit not in s.units:
        return "not_holder"
    if s.level != "department" and s.response is None:
        _respond(draft, at)  # solving it is answering it
    window = draft.rule.closing.rating_window
    rating = Deadline(kind="rating", unit=unit, due=draft.add(at, window), token=draft.version)
    reports_due = tuple(d for d in draft.state.deadlines if d.kind == "report")
    draft.update(status="resolved", resolved_at=at, deadlines=(*reports_due, rating))
    return ""


def _rated(draft: Draft, event: IssueRated, at: datetime) -> str:
    s = draft.state
    if s.status != "resolved":
        return "not_resolved"
    satisfied = event.data.satisfied
    draft.count("whistle_ratings_total", satisfied=str(satisfied).lower(), street=s.street)
    if satisfied:
        close(draft, at, "resolved", True)
    elif s.reopens >= draft.rule.closing.max_reopens and can_climb(draft):
        draft.update(status="open", resolved_at=None, reopens=s.reopens + 1)
        climb(draft, at, "reopened_too_often")
    else:
        reopen(draft, at)
    return ""
