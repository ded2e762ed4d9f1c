"""Parking (挂账): approval, paused limits, the review, resuming (engine.domain.parking)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.agents.codec import Stored, decode, encode, peek, summary_of
from engine.agents.metrics import Metrics
from engine.domain.decide import decide
from engine.domain.events import IssueClosed
from engine.domain.replay import Replayer
from engine.domain.ruleset import Parking
from tests.factories import T0, event, raised
from tests.workflow_rules import LADDER, PARKING, with_workflow

M = timedelta(minutes=1)
H = timedelta(hours=1)
REVIEW = T0 + timedelta(days=10)


def at_street(r: Replayer, issue: str = "P1") -> None:
    """An emergency at the street (respond 15m, resolve 60m), acknowledged at once."""
    list(r.feed(raised(issue, T0, severity="emergency")))
    list(r.feed(event("acknowledged", issue, T0 + M, unit="dongting")))


def types(decisions: Any) -> list[str]:
    return [e.type.removeprefix("issue.") for d in decisions for e in d.emit]


def park(r: Replayer, issue: str = "P1", at: datetime = T0 + 10 * M,
         approver: str = "housing") -> list[str]:
    got = types(r.feed(event("park_requested", issue, at, unit="dongting", reason="等待预算",
                             plan="明年立项", review_at=REVIEW.isoformat())))
    return got + types(r.feed(event("park_decided", issue, at + 5 * M, decision="approved",
                                    approver=approver)))


def test_while_parked_the_limits_pause_and_resume_moved_by_the_paused_time() -> None:
    r = Replayer(with_workflow(parking=PARKING))
    at_street(r)
    assert park(r) == ["park_pending", "parked"]
    state = r.states["P1"]
    assert state.parked is not None and state.parked.since == (T0 + 15 * M).astimezone(UTC)
    assert [d.kind for d in state.deadlines] == ["review"]  # nothing else runs
    assert types(r.advance(T0 + 2 * H)) == []  # the 60m resolve limit does not pass
    resumed_at = T0 + 3 * H
    out = [e for d in r.feed(event("unparked", "P1", resumed_at, unit="dongting"))
           for e in d.emit]
    assert [e.type for e in out] == ["issue.resumed", "issue.assigned"]
    paused = resumed_at - (T0 + 15 * M)
    assert out[0].data.period.paused_seconds == paused.total_seconds()  # type: ignore[attr-defined]
    assert out[1].data.reason == "unparked"  # type: ignore[attr-defined]
    assert out[1].data.resolve_by == T0 + H + paused  # type: ignore[attr-defined]
    state = r.states["P1"]
    assert state.parked is None and state.resolve_by == T0 + H + paused
    # the resolve limit and its warning (80%: T0+48m, not given before the park) moved
    assert sorted((d.kind, d.warning, d.due) for d in state.deadlines) == [
        ("resolve", False, T0 + H + paused), ("resolve", True, T0 + 48 * M + paused)]
    assert types(r.advance(T0 + H + paused - M)) == ["warning"]
    assert types(r.advance(T0 + H + paused)) == ["overdue", "escalated", "assigned"]


def test_the_review_is_a_durable_deadline_at_review_at() -> None:
    r = Replayer(with_workflow(parking=PARKING))
    at_street(r)
    park(r)
    out = [e for d in r.advance(REVIEW) for e in d.emit]
    assert [(e.type, e.time) for e in out] == [("issue.review_due", REVIEW)]
    assert out[0].data.approver == "housing"  # type: ignore[attr-defined]
    assert r.states["P1"].parked is not None  # still parked: the approver decides


def test_a_renewal_moves_the_review_and_keeps_the_period() -> None:
    r = Replayer(with_workflow(parking=PARKING))
    at_street(r)
    park(r)
    later = REVIEW + timedelta(days=5)
    got = types(r.feed(event("park_requested", "P1", REVIEW - H, unit="dongting",
                             reason="仍在等待", review_at=later.isoformat())))
    got += types(r.feed(event("park_decided", "P1", REVIEW - 30 * M, decision="approved",
                              approver="urban_management")))
    assert got == ["park_pending", "parked"]
    state = r.states["P1"]
    assert state.parked is not None and state.parked.since == (T0 + 15 * M).astimezone(UTC)
    assert [(d.kind, d.due) for d in state.deadlines] == [("review", later)]
    assert types(r.advance(REVIEW)) == []


def test_a_rejected_request_pauses_nothing() -> None:
    r = Replayer(with_workflow(parking=PARKING))
    at_street(r)
    got = types(r.feed(event("park_requested", "P1", T0 + 10 * M, unit="dongting",
                             reason="等待预算", review_at=REVIEW.isoformat())))
    got += types(r.feed(event("park_decided", "P1", T0 + 20 * M, decision="rejected",
                              approver="housing")))
    assert got == ["park_pending", "park_refused"]
    state = r.states["P1"]
    assert state.parked is None and state.park_request is None
    assert "resolve" in {d.kind for d in state.deadlines}


@pytest.mark.parametrize(("facts", "reason"), [
    ([("park_requested", {"unit": "jinan-g1", "reason": "x",
                          "review_at": REVIEW.isoformat()})], "not_holder"),
    ([("park_requested", {"unit": "dongting", "reason": "x",
                          "review_at": (T0 - H).isoformat()})], "review_at_past"),
    ([("park_requested", {"unit": "dongting", "reason": "x",
                          "review_at": (T0 + timedelta(days=40)).isoformat()})], "review_too_far"),
    ([("park_requested", {"unit": "dongting", "reason": "x", "review_at": REVIEW.isoformat()}),
      ("park_requested", {"unit": "dongting", "reason": "y", "review_at": REVIEW.isoformat()})],
     "park_pending"),
    ([("park_decided", {"decision": "approved", "approver": "housing"})], "no_park_pending"),
    ([("park_requested", {"unit": "dongting", "reason": "x", "review_at": REVIEW.isoformat()}),
      ("park_decided", {"decision": "approved", "approver": "traffic_police_x"})],
     "approver_not_allowed"),
    ([("park_requested", {"unit": "dongting", "reason": "x", "review_at": REVIEW.isoformat()}),
      ("park_decided", {"decision": "approved", "approver": "dongting"})],
     "approver_not_allowed"),
    ([("unparked", {"unit": "dongting"})], "not_parked"),
])
def test_unfit_parking_facts_change_nothing_and_say_why(
        facts: list[tuple[str, dict[str, Any]]], reason: str) -> None:
    rules = with_workflow(parking=PARKING)
    r = Replayer(rules)
    at_street(r)
    *before, (kind, data) = facts
    for n, (k, d) in enumerate(before):
        list(r.feed(event(k, "P1", T0 + (2 + n) * M, **d)))
    state = r.states["P1"]
    decision = decide(state, event(kind, "P1", T0 + 9 * M, **data), rules, T0 + 9 * M)
    assert (decision.result, decision.reason) == ("unfit", reason)
    assert decision.state is not None and not decision.emit
    assert decision.state.seen[-1] not in state.seen  # the fact is recorded as seen
    assert decision.state.deadlines == state.deadlines
    assert decision.state.park_request == state.park_request


def test_a_rule_without_parking_refuses_it() -> None:
    rules = with_workflow()
    r = Replayer(rules)
    at_street(r)
    decision = decide(r.states["P1"], event("park_requested", "P1", T0 + 5 * M, unit="dongting",
                                            reason="x", review_at=REVIEW.isoformat()),
                      rules, T0 + 5 * M)
    assert (decision.result, decision.reason) == ("unfit", "parking_not_allowed")


def test_a_whistle_while_parked_is_unfit_and_an_unpark_from_a_stranger_too() -> None:
    rules = with_workflow(parking=PARKING)
    r = Replayer(rules)
    at_street(r)
    park(r)
    state = r.states["P1"]
    whistle = decide(state, event("whistled", "P1", T0 + H, unit="dongting"), rules, T0 + H)
    assert (whistle.result, whistle.reason) == ("unfit", "parked")
    stranger = decide(state, event("unparked", "P1", T0 + H, unit="jinan-g1"), rules,
                      T0 + H)
    assert (stranger.result, stranger.reason) == ("unfit", "not_holder")


def test_resolving_while_parked_ends_the_period_and_the_closure_carries_it() -> None:
    r = Replayer(with_workflow(parking=PARKING))
    at_street(r)
    park(r)
    done = T0 + 5 * H
    assert types(r.feed(event("resolved", "P1", done, unit="dongting"))) == []
    assert r.states["P1"].parked is None and r.states["P1"].status == "resolved"
    out = [e for d in r.feed(event("rated", "P1", done + H, satisfied=True)) for e in d.emit]
    (closed,) = [e for e in out if isinstance(e, IssueClosed)]
    (period,) = closed.data.parked
    assert (period.since, period.until) == (T0 + 15 * M, done)
    assert period.approver == "housing" and period.unit == "dongting"
    assert period.paused_seconds == (done - (T0 + 15 * M)).total_seconds()
    assert closed.data.on_time is True and closed.data.breaches == 0


def test_a_withdrawal_while_parked_closes_the_open_period() -> None:
    r = Replayer(with_workflow(parking=PARKING))
    at_street(r)
    park(r)
    out = [e for d in r.feed(event("withdrawn", "P1", T0 + 2 * H)) for e in d.emit]
    (closed,) = [e for e in out if isinstance(e, IssueClosed)]
    assert [p.until for p in closed.data.parked] == [T0 + 2 * H]
    assert r.states["P1"].parked is None


def test_parking_pauses_the_urging_ladder_and_moves_it() -> None:
    r = Replayer(with_workflow(LADDER, PARKING))
    list(r.feed(raised("P1", T0, severity="emergency")))
    list(r.feed(event("acknowledged", "P1", T0 + M, unit="dongting")))
    list(r.feed(event("whistled", "P1", T0 + 2 * M, unit="dongting")))
    missed = T0 + 2 * M + 24 * H  # the department's 24 h resolve limit
    assert "urged" in types(r.advance(missed))
    parked_at = missed + 10 * M
    list(r.feed(event("park_requested", "P1", missed + 5 * M, unit="traffic_police",
                      reason="等待预算", review_at=REVIEW.isoformat())))
    list(r.feed(event("park_decided", "P1", parked_at, decision="approved",
                      approver="housing")))
    assert r.states["P1"].parked is not None
    assert types(r.advance(missed + 5 * H)) == []  # step 2 was due at missed + 1h
    resumed = missed + 5 * H
    list(r.feed(event("unparked", "P1", resumed, unit="traffic_police")))
    paused = resumed - parked_at
    out = [(e.type, e.time) for d in r.advance(resumed + 10 * H) for e in d.emit
           if e.type in ("issue.urged", "issue.supervised")]
    assert out == [("issue.urged", missed + H + paused),
                   ("issue.supervised", missed + 3 * H + paused)]


def test_parked_state_round_trips_through_the_store_and_its_header_names_the_unit() -> None:
    r = Replayer(with_workflow(LADDER, PARKING))
    at_street(r)
    park(r)
    state = r.states["P1"]
    raw = encode(Stored(3, state))
    assert decode(raw).state == state
    summary = peek("P1", raw)
    assert summary == summary_of(3, state) and summary is not None
    assert summary.parked == "dongting"
    list(r.feed(event("unparked", "P1", T0 + H, unit="dongting")))
    after = peek("P1", encode(Stored(3, r.states["P1"])))
    assert after is not None and after.parked is None
    assert b'"h":["open","street"' in encode(Stored(3, r.states["P1"]))


def test_the_parked_gauge_follows_the_moves_and_the_rebuild() -> None:
    m = Metrics()
    m.parked_moved(0, None, "dongting")
    m.parked_moved(1, None, "dongting")
    m.parked_moved(1, None, "housing")

    def value(unit: str) -> float | None:
        return m.registry.get_sample_value("whistle_parked_issues", {"unit": unit})

    assert value("dongting") in (None, 0)  # moves are published when the batch ends
    m.flush()
    assert (value("dongting"), value("housing")) == (2, 1)
    m.parked_moved(0, "dongting", None)
    m.parked_set(1, Counter({"housing": 4}))
    assert (value("dongting"), value("housing")) == (0, 4)
    m.open_keep({0})
    assert value("housing") == 0


def test_max_review_is_optional() -> None:
    rules = with_workflow(parking=Parking(approvers=("street",)))
    r = Replayer(rules)
    list(r.feed(raised("G1", T0)))  # at the grid: the street approves
    far = (T0 + timedelta(days=400)).isoformat()
    got = types(r.feed(event("park_requested", "G1", T0 + M, unit="jinan-g1", reason="x",
                             review_at=far)))
    got += types(r.feed(event("park_decided", "G1", T0 + 2 * M, decision="approved",
                              approver="dongting")))
    assert got == ["park_pending", "parked"]
