"""``decide(state, event, rules, now)``: the whole lifecycle of an issue as one pure function.

Rejected alternatives: a class per state (the states share most data and the transitions are
few), and an event-sourced aggregate replaying its history (the table holds one snapshot per
issue; replaying would cost memory and time on every event). Here an issue is one frozen
snapshot; a decision returns the next snapshot, the events to emit and the counts to add.

Rules of the game:
- A duplicate event (same CloudEvents source and id), or the last deadline applied, changes
  nothing and emits nothing. Re-sending what it produced (the runtime may have crashed between
  writing the state and sending the events) is the shell's: it stores a batch's events beside
  the state (the outbox, ``engine.agents.codec``), so open issues in memory carry none.
- A ``DeadlineReached`` whose token no longer arms a deadline is stale and changes nothing.
- Before an inbound fact is applied, every deadline due before its time fires (at its own due
  time), so the outcome does not depend on how promptly the runtime's ticks came.
- An event that does not fit the state is counted in the state and changes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from sys import intern
from typing import Any

from engine.domain import claims, extensions, parking, returns
from engine.domain.deadlines import fire_due
from engine.domain.decision import Decision, Result
from engine.domain.draft import Draft
from engine.domain.events import (
    DeadlineReached,
    Envelope,
    IssueExtensionDecided,
    IssueExtensionRequested,
    IssueRaised,
    IssueReturnDecided,
    IssueReturnRequested,
)
from engine.domain.fast import defaults_of, make, replace
from engine.domain.lifecycle import apply, enter, retime
from engine.domain.people import ACT_TYPES, CLAIM_TYPES, moved
from engine.domain.people import apply as apply_people
from engine.domain.ruleset import Facts, Rule, Ruleset
from engine.domain.state import IssueState

Event = Envelope | DeadlineReached

_TICK = timedelta(microseconds=1)
# Facts applied by the workflow modules (each answers "" or why it did not fit, as ``apply``)
MOVES: dict[type[Envelope], Callable[[Draft, Any, datetime], str]] = {
    IssueReturnRequested: returns.requested,
    IssueReturnDecided: returns.decided,
    IssueExtensionRequested: extensions.requested,
    IssueExtensionDecided: extensions.decided,
}
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
    # (the hot path of the engine: plain loops and positional constructors on purpose)
    if isinstance(event, DeadlineReached):
        key = f"deadline:{event.token}:{event.due.isoformat()}"
    else:
        key = f"{event.source}\x00{event.id}"
    if state is None:
        if isinstance(event, IssueRaised):
            return _raise(event, rules, key)
        return Decision("unfit", None, (), (), "unknown_issue")
    if key == state.last_trigger or key in state.seen:
        return Decision("duplicate", state)
    now = now if now.tzinfo is UTC else now.astimezone(UTC)
    if isinstance(event, DeadlineReached):
        token, due = event.token, event.due
        for d in state.deadlines:
            if d.token == token and d.due == due:
                break
        else:
            return Decision("stale", state)
        draft = _draft(state, rules)
        if follow:
            _follow(draft, now)
            claims.sync(draft, now)
        fire_due(draft, now)
        return _done(draft, key, "accepted", "")
    # claims and acts are checked (a set lookup; an act only when it names a claimant)
    kind = type(event)
    people = kind in CLAIM_TYPES or (
        kind in ACT_TYPES and event.data.claimant is not None)  # type: ignore[attr-defined]  # ACT_TYPES have it
    if state.status == "closed":
        if people and (refused := claims.check(state, event, rules)):
            return Decision("rejected", None, (), (), refused)
        return _unfit(state, key, "closed")
    assert isinstance(event, Envelope)
    draft = _draft(state, rules)
    at = event.time
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    first = now if now < at else at
    if follow:
        _follow(draft, first)
        claims.sync(draft, first)
    fire_due(draft, first - _TICK)  # due strictly before the fact; exactly at the limit is on time
    if people:
        refused = claims.check(draft.state, event, rules)
        if refused:  # a bad claim changes nothing (what fired before it fires again on the
            # next tick); the shell rejects it with the reason
            return Decision("rejected", None, (), (), refused)
        parking.apply(draft, event, at)  # None for these; a resolution resumes a parked issue
        reason = apply_people(draft, event, at)
    else:
        before = draft.state.status
        move = MOVES.get(kind)
        if move is not None:  # returns and extensions: on an open issue that is not parked
            s = draft.state
            reason = ("not_open" if s.status != "open" else "parked" if s.parked is not None
                      else move(draft, event, at))
        else:
            parked = parking.apply(draft, event, at)  # parking's facts, and what parking changes
            reason = apply(draft, event, at) if parked is None else parked
        s = draft.state
        if s.reporter or s.claims:  # someone points could go to, or claims to put back
            if not reason and s.status != before:
                moved(draft, before, at)
            claims.sync(draft, at)
    return _done(draft, key, "unfit" if reason else "accepted", reason)


def _follow(draft: Draft, at: datetime) -> None:
    s = draft.state
    if s.rules_version != draft.rules.version and s.status != "closed":
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
    # An unfit fact is recorded (seen; counted in the shell's metrics) and changes nothing else;
    # what deadlines due before it produced is kept and emitted.
    state = draft.state
    values = state.__dict__  # the draft's own copy (fast.amend)
    if not key.startswith("deadline:"):
        values["seen"] = (*state.seen[-MAX_SEEN + 1 :], key)
    emitted = tuple(draft.emit)
    if emitted or result == "accepted":
        values["version"] = draft.version
    values["last_trigger"] = key
    return Decision(result, state, emitted, tuple(draft.counts), reason, tuple(draft.warnings))


def _unfit(state: IssueState, key: str, reason: str) -> Decision:
    seen = (*state.seen[-MAX_SEEN + 1 :], key)
    return Decision("unfit", replace(state, seen=seen), (), (), reason)


def _raise(event: IssueRaised, rules: Ruleset, key: str) -> Decision:
    data = event.data
    at = event.time
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    grid = rules.registry.grids.get(data.grid)
    if grid is None:
        return Decision("rejected", None, (), (), "unknown_grid")
    village = rules.registry.villages[grid.village]
    # the few categories and severities are shared by every open issue, not one copy each
    category, severity = intern(data.category), intern(data.severity)
    reporter = data.reporter.kind if data.reporter else "unknown"
    rule = rules.match_fields(category, severity, reporter, event.source, village.street)
    state = make(IssueState, {
        **defaults_of(IssueState),
        "issue_id": event.subject, "version": 0, "status": "open", "raised_at": at,
        "grid": grid.id, "village": village.id, "street": village.street,
        "category": category, "severity": severity, "rule": rule.id,
        # a hint naming an unknown department is ignored: labels stay a bounded set
        "hint_departments": tuple([d for d in data.departments
                                   if d in rules.registry.departments])
        if data.departments else (),
        "rules_version": rules.version, "level": rule.ladder[0].level, "units": (),
        "entered_at": at, "entry_reason": "raised", "resolve_by": at,
    })
    who = data.reporter
    if who is not None and who.id is not None:  # a reporter points can go to (docs/points.md)
        state.__dict__["reporter"] = (who.kind, who.id)
    draft = Draft(state, rules, rule, 1, own=True)
    draft.count("whistle_issues_raised_total", (("street", village.street), ("category", category)))
    enter(draft, 0, at, "raised")
    return _done(draft, key, "accepted", "")


