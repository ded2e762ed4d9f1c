"""Points (积分): ledger events the core emits when people's work on an issue pays off.

The rules are the rule set's ``points`` section (``PointRule``); docs/points.md has the whole
story. In short:

- ``on: resolved`` rules award when a unit resolves the issue (``issue.resolved`` accepted), to
  the reporter (when the raise named one with an id) and to every claimant holding a claim then.
  Such an award stands unless the resolution does not: an unsatisfied rating that reopens the
  issue, or a withdrawal before it closes, reverses it (``points.reversed``). The next
  resolution awards again, as a new award.
- ``on: satisfied`` rules award when a satisfied rating closes the issue, to the reporter and to
  the claimants holding a claim then. A closed issue never reopens, so these are final.
- For each person (in each role) and timing, the first matching point rule awards.

Every ledger event's id is a function of what it is for (the issue, its resolution, the rule,
the person), never of when or where it was computed: a redelivered fact, a replay or a second
worker makes the same ids, and a consumer dedupes by id. A reversal's id is derived from its
award's, and names it in ``data.award_id``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from engine.domain.draft import Draft
from engine.domain.events import (
    Person,
    PointsAwarded,
    PointsAwardedData,
    PointsReversed,
    PointsReversedData,
)
from engine.domain.fast import defaults_of, make
from engine.domain.ruleset import PointRule, PointTiming
from engine.domain.state import Award


def ledger_id(*parts: str) -> str:
    """A deterministic event id: ``pts-`` and 32 hex digits of the parts' SHA-256."""
    return "pts-" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _people(draft: Draft) -> list[tuple[str, str, str]]:
    """(role, kind, id) of the reporter and of every claimant holding a claim now."""
    s = draft.state
    out = [("reporter", s.reporter[0], s.reporter[1])] if s.reporter else []
    if s.claims:
        out += [("claimant", c.kind, c.id) for c in s.claims if c.active]
    return out


def _first(rules: tuple[PointRule, ...], role: str, on: str, kind: str, category: str,
           severity: str) -> PointRule | None:
    for rule in rules:
        if rule.applies(role, on, kind, category, severity):
            return rule
    return None


def award(draft: Draft, at: datetime, on: PointTiming) -> None:
    """Award the points due ``on`` resolution or a satisfied closure."""
    rules = draft.rules.points
    people = _people(draft) if rules else ()
    if not people:
        return
    s = draft.state
    occasion = f"resolution-{s.reopens}" if on == "resolved" else "satisfied"
    standing = list(s.awards)
    for role, kind, ident in people:
        rule = _first(rules, role, on, kind, s.category, s.severity)
        if rule is None:
            continue
        event_id = ledger_id("award", s.issue_id, occasion, rule.id, role, kind, ident)
        draft.emit.append(make(PointsAwarded, {
            **defaults_of(PointsAwarded), "id": event_id, "subject": s.issue_id, "time": at,
            "data": make(PointsAwardedData, {
                "sequence": draft.version, "award_id": event_id, "issue_id": s.issue_id,
                "rule": rule.id, "person": make(Person, {"kind": kind, "id": ident}),
                "role": role, "points": rule.points, "on": on, "category": s.category,
                "severity": s.severity, "street": s.street,
            }),
        }))
        draft.count("whistle_points_awarded_total", (("kind", kind), ("rule", rule.id)),
                    float(rule.points))
        if on == "resolved":
            standing.append(Award(event_id, rule.id, role, kind, ident, rule.points))
    if len(standing) != len(s.awards):
        draft.update(awards=tuple(standing))


def reverse(draft: Draft, at: datetime, reason: str) -> None:
    """Take back every standing award: the resolution they were for did not hold."""
    s = draft.state
    if not s.awards:
        return
    for a in s.awards:
        event_id = ledger_id("reverse", a.event_id)
        draft.emit.append(make(PointsReversed, {
            **defaults_of(PointsReversed), "id": event_id, "subject": s.issue_id, "time": at,
            "data": make(PointsReversedData, {
                "sequence": draft.version, "award_id": a.event_id, "issue_id": s.issue_id,
                "rule": a.rule, "person": make(Person, {"kind": a.kind, "id": a.id}),
                "role": a.role, "points": a.points, "reason": reason,
            }),
        }))
        draft.count("whistle_points_reversed_total", (("kind", a.kind), ("rule", a.rule)),
                    float(a.points))
    draft.update(awards=())


def on_closed(draft: Draft, at: datetime, outcome: str, satisfied: bool | None) -> None:
    """After ``issue.closed``: a withdrawal takes the standing awards back; a satisfied rating
    awards the ``on: satisfied`` points. (Awards that stand at closure are final.)"""
    if outcome == "withdrawn":
        reverse(draft, at, "withdrawn")
    elif satisfied:
        award(draft, at, "satisfied")
