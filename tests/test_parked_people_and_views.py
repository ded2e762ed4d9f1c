"""Where the merged features meet: parking (挂账) with claims (认领) and points (积分), and a
parked issue in the three rates' open overdue limits and in the who-holds-what API.

A park pauses the holding unit's limits, not a claimant's clock: a claim's expiry keeps its
time while the issue is parked. An act that resolves a parked issue (a resolution naming a
claimant) resumes it first, as any resolution does. A paused limit is not missed: neither the
``whistle_open_overdue_limits`` gauge nor the API's ``overdue`` counts it until it has moved
and passed after the resume.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from engine.agents.metrics import open_overdue
from engine.domain.events import IssueClosed
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset
from engine.web.issues import missed
from tests.factories import T0, event
from tests.people import PM, people_rules
from tests.test_parking import REVIEW, at_street, park, types
from tests.workflow_rules import PARKING

M = timedelta(minutes=1)
H = timedelta(hours=1)


def parked_people_rules() -> Ruleset:
    """``people_rules()`` (claims: emergency 20m; points) whose rules may be parked."""
    base = people_rules()
    rules = tuple(r.model_copy(update={"parking": PARKING}) for r in base.rules)
    return base.model_copy(update={"rules": rules})


def test_a_claim_keeps_its_clock_while_the_issue_is_parked() -> None:
    r = Replayer(parked_people_rules())
    at_street(r)  # an emergency at the street: respond 15m, resolve 60m; acknowledged at T0+1m
    assert types(r.feed(event("claimed", "P1", T0 + 5 * M, claimant=PM))) == []
    assert park(r) == ["park_pending", "parked"]  # approved at T0+15m
    state = r.states["P1"]
    assert state.parked is not None
    assert [d.kind for d in state.parked.paused if not d.warning] == ["resolve"]
    assert sorted((d.kind, d.due) for d in state.deadlines) == [
        ("claim", T0 + 25 * M), ("review", REVIEW)]
    assert types(r.advance(T0 + 2 * H)) == ["claim_expired"]  # the resolve limit waits


def test_a_resolution_naming_a_claimant_resumes_a_parked_issue_then_resolves_it() -> None:
    r = Replayer(parked_people_rules())
    at_street(r)
    list(r.feed(event("claimed", "P1", T0 + 5 * M, claimant=PM)))
    park(r)
    out = types(r.feed(event("progressed", "P1", T0 + 20 * M, unit="dongting", claimant=PM)))
    assert out == []  # an act while parked: the claim re-arms, the issue stays parked
    assert r.states["P1"].parked is not None
    assert r.states["P1"].claims[0].expires_at == (T0 + 40 * M).astimezone(UTC)
    resolved = [e.type for d in r.feed(event("resolved", "P1", T0 + 30 * M, unit="dongting",
                                             claimant=PM)) for e in d.emit]
    assert resolved == ["points.awarded"]  # the claimant's points for the resolution
    state = r.states["P1"]
    assert state.status == "resolved" and state.parked is None
    assert [(s.since, s.until) for s in state.parked_spans] == [
        ((T0 + 15 * M).astimezone(UTC), (T0 + 30 * M).astimezone(UTC))]
    assert not [d for d in state.deadlines if d.kind == "claim"]  # stopped: awaits its rating
    closed = [e for d in r.feed(event("rated", "P1", T0 + 40 * M, satisfied=True))
              for e in d.emit if isinstance(e, IssueClosed)]
    (c,) = closed
    assert [x.outcome for x in c.data.claims] == ["held"]
    assert len(c.data.parked) == 1 and c.data.parked[0].paused_seconds == 15 * 60
    assert c.data.on_time  # resolved 30m after the raise, within the 60m limit


def test_a_parked_issues_paused_limits_are_neither_open_overdue_nor_missed() -> None:
    r = Replayer(parked_people_rules())
    at_street(r)
    park(r)  # parked at T0+15m; the 60m resolve limit would pass at T0+1h
    assert types(r.advance(T0 + 3 * H)) == []
    state = r.states["P1"]
    assert state.parked is not None and state.resolve_by == T0 + H  # as it was: it moves later
    assert open_overdue(state) == ()
    assert missed(state, T0 + 3 * H) == []
    assert types(r.feed(event("unparked", "P1", T0 + 3 * H, unit="dongting"))) == [
        "resumed", "assigned"]
    state = r.states["P1"]
    moved = T0 + H + (3 * H - 15 * M)
    assert state.resolve_by == moved
    assert missed(state, moved - M) == []
    assert [(m.kind, m.unit, m.due) for m in missed(state, moved + M)] == [
        ("resolve", "dongting", moved)]
