"""Claims (认领) in the core: claim, release, act, expire; refusals; the closure's list."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.agents.codec import Stored, decode, encode
from engine.agents.metrics import Metrics
from engine.domain.claims import MAX_CLAIMS
from engine.domain.events import IssueClaimExpired, IssueClosed
from tests.factories import T0
from tests.people import PM, RIDER, VOL, Issue, M, people_rules
from tests.test_processor import FakeSink, Harness, cloud, msg


def claim_deadlines(issue: Issue) -> list[Any]:
    assert issue.state is not None
    return sorted((d.unit, d.due) for d in issue.state.deadlines if d.kind == "claim")


def test_a_claim_arms_its_expiry_and_does_not_move_the_issue() -> None:
    i = Issue()
    i.raise_()
    before = i.state
    d = i.fact("claimed", 5, claimant=PM, note="我来跟进")
    assert d.result == "accepted" and d.emit == ()  # no lifecycle event: it records who helps
    assert i.state is not None and before is not None
    assert (i.state.level, i.state.units, i.state.respond_by) == (
        before.level, before.units, before.respond_by)
    assert claim_deadlines(i) == [("party_member:pm-0001", T0 + 95 * M)]
    assert ("whistle_claims_total", (("kind", "party_member"), ("outcome", "claimed")), 1.0) \
        in d.counts


def test_an_act_named_on_a_progress_rearms_the_expiry_from_its_time() -> None:
    i = Issue()
    i.raise_()
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 5, claimant=PM)
    d = i.fact("progressed", 60, unit="jinan-g1", claimant=PM, note="已联系车主")
    assert d.result == "accepted"
    assert claim_deadlines(i) == [("party_member:pm-0001", T0 + 150 * M)]
    assert i.state is not None and i.state.claims[0].acted_at == T0 + 60 * M


def test_a_claim_without_an_act_expires_at_its_own_due_time_even_on_a_late_tick() -> None:
    i = Issue()
    i.raise_()
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 5, claimant=VOL)
    while i.tick(24 * 60) is not None and not i.emitted("issue.claim_expired"):
        pass
    (expired,) = i.emitted("issue.claim_expired")
    assert isinstance(expired, IssueClaimExpired)
    assert expired.data.claimant.model_dump() == VOL
    assert expired.time == expired.data.expired_at == T0 + 95 * M
    assert expired.data.acted_at is None and expired.data.rule == "default"
    assert claim_deadlines(i) == []
    assert i.state is not None and not i.state.claims[0].active


def test_the_expiry_survives_a_climb_that_replaces_every_deadline() -> None:
    i = Issue()
    i.raise_()
    i.fact("claimed", 1, claimant=PM)  # grid does not respond: climbs at 30m
    d = i.fact("acknowledged", 40, unit="jinan")  # the village answers after the climb
    assert d.result == "accepted" and i.state is not None and i.state.level == "village"
    assert claim_deadlines(i) == [("party_member:pm-0001", T0 + 91 * M)]
    # and it still fires, between the ladder's own deadlines
    i.tick(200)
    assert [e.data.expired_at for e in i.emitted("issue.claim_expired")] == [T0 + 91 * M]


def test_an_expiry_before_a_fact_fires_first_so_a_late_act_is_refused() -> None:
    i = Issue()
    i.raise_()
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 5, claimant=PM)
    d = i.fact("progressed", 100, unit="jinan-g1", claimant=PM)  # expired at 95m
    assert d.result == "rejected" and d.reason == "claim_not_held" and d.state is None


def test_the_rule_sets_expiry_per_rule() -> None:
    i = Issue()
    i.raise_(severity="emergency")
    i.fact("claimed", 5, claimant=PM)
    assert claim_deadlines(i) == [("party_member:pm-0001", T0 + 25 * M)]


def test_release_ends_the_claim_and_its_expiry() -> None:
    i = Issue()
    i.raise_()
    i.fact("claimed", 5, claimant=PM)
    i.fact("claimed", 6, claimant=RIDER)
    d = i.fact("claim_released", 10, claimant=PM, note="另有安排")
    assert d.result == "accepted"
    assert claim_deadlines(i) == [("rider:rd-0003", T0 + 96 * M)]
    assert ("whistle_claims_total", (("kind", "party_member"), ("outcome", "released")), 1.0) \
        in d.counts
    # released, the same person may claim again
    assert i.fact("claimed", 12, claimant=PM).result == "accepted"


@pytest.mark.parametrize(("steps", "last", "reason"), [
    ([("claimed", {"claimant": PM})], ("claimed", {"claimant": PM}), "claim_held"),
    ([], ("claim_released", {"claimant": PM}), "claim_not_held"),
    ([("claimed", {"claimant": PM}), ("claim_released", {"claimant": PM})],
     ("claim_released", {"claimant": PM}), "claim_not_held"),
    ([("claimed", {"claimant": VOL})], ("claim_released", {"claimant": PM}), "claim_not_held"),
    ([], ("progressed", {"unit": "jinan-g1", "claimant": PM}), "claim_not_held"),
    ([("resolved", {"unit": "jinan-g1"})], ("claimed", {"claimant": PM}), "claim_not_open"),
    ([("withdrawn", {})], ("claimed", {"claimant": PM}), "claim_not_open"),
    ([("claimed", {"claimant": PM}), ("withdrawn", {})], ("claim_released", {"claimant": PM}),
     "claim_not_open"),
])
def test_bad_claims_are_refused_with_a_reason_and_change_nothing(
    steps: list[tuple[str, dict[str, Any]]], last: tuple[str, dict[str, Any]], reason: str,
) -> None:
    i = Issue()
    i.raise_()
    for n, (kind, data) in enumerate(steps, 1):
        assert i.fact(kind, n, **data).result == "accepted"
    before = i.state
    d = i.fact(last[0], 20, **last[1])
    assert (d.result, d.reason, d.state, d.emit) == ("rejected", reason, None, ())
    assert i.state is before


def test_a_claim_for_an_issue_never_raised_is_unknown() -> None:
    d = Issue().fact("claimed", 1, claimant=PM)
    assert (d.result, d.reason, d.state) == ("unfit", "unknown_issue", None)


def test_as_many_claims_as_the_rules_allow() -> None:
    i = Issue(people_rules(max_active=2))
    i.raise_()
    assert i.fact("claimed", 1, claimant=PM).result == "accepted"
    assert i.fact("claimed", 2, claimant=VOL).result == "accepted"
    assert i.fact("claimed", 3, claimant=RIDER).reason == "claim_limit"
    i.fact("claim_released", 4, claimant=VOL)
    assert i.fact("claimed", 5, claimant=RIDER).result == "accepted"
    assert MAX_CLAIMS >= 8


def test_the_clock_stops_while_the_issue_awaits_its_rating_and_restarts_on_reopen() -> None:
    i = Issue()
    i.raise_()
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 5, claimant=PM)
    i.fact("resolved", 60, unit="jinan-g1", claimant=PM)
    assert i.state is not None and i.state.status == "resolved"
    assert claim_deadlines(i) == []  # no expiry while the resident rates
    i.fact("rated", 300, satisfied=False)  # long after the claim would have expired
    assert i.state is not None and i.state.status == "open" and i.state.claims[0].active
    assert claim_deadlines(i) == [("party_member:pm-0001", T0 + 390 * M)]
    assert i.emitted("issue.claim_expired") == []


def test_the_closure_lists_every_claim_with_its_outcome() -> None:
    i = Issue()
    i.raise_()
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 3, claimant=PM)
    i.fact("claimed", 4, claimant=VOL)
    i.fact("claimed", 5, claimant=RIDER)
    i.fact("claim_released", 10, claimant=RIDER)
    i.fact("progressed", 50, unit="jinan-g1", claimant=PM)
    i.fact("resolved", 110, unit="jinan-g1", claimant=PM)  # VOL expired at 94m
    d = i.fact("rated", 120, satisfied=True)
    (closed,) = [e for e in d.emit if isinstance(e, IssueClosed)]
    got = [(c.claimant.kind, c.outcome, c.claimed_at, c.acted_at, c.released_at, c.expired_at)
           for c in closed.data.claims]
    assert got == [
        ("party_member", "held", T0 + 3 * M, T0 + 110 * M, None, None),
        ("volunteer", "expired", T0 + 4 * M, None, None, T0 + 94 * M),
        ("rider", "released", T0 + 5 * M, None, T0 + 10 * M, None),
    ]
    assert ("whistle_claims_total", (("kind", "party_member"), ("outcome", "held")), 1.0) \
        in d.counts
    body = json.loads(closed.model_dump_json())
    assert body["data"]["claims"][0]["claimant"] == PM


def test_a_state_with_claims_and_awards_round_trips_through_the_codec() -> None:
    i = Issue()
    i.raise_(reporter=RIDER)
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 3, claimant=PM)
    i.fact("resolved", 30, unit="jinan-g1", claimant=PM)
    assert i.state is not None and i.state.claims and i.state.awards
    outbox = tuple(i.decisions[-1].emit)
    again = decode(encode(Stored(1, i.state, outbox, ("k",))))  # type: ignore[arg-type]
    assert again.state == i.state and again.outbox == outbox


# --- through the shell: rejections on issues.rejected, metrics -------------------------------


def shell() -> tuple[Harness, FakeSink, Metrics]:
    rules = people_rules()
    from engine.agents.clock import FixedClock
    from engine.agents.index import DeadlineIndex
    from engine.agents.store import IssueStore
    from engine.agents.topics import Topics

    sink, metrics = FakeSink(), Metrics()
    proc = Harness(rules=lambda: rules, store=IssueStore({}), metrics=metrics,
                   clock=FixedClock(T0), index=DeadlineIndex(), topics=Topics(),
                   changelog="whistle-issues-changelog")
    proc.sink = sink
    return proc, sink, metrics


def test_the_shell_rejects_bad_claims_with_their_reason_and_detail() -> None:
    proc, sink, metrics = shell()
    raise_ = cloud("raised", "A", T0, 1, grid="jinan-g1", category="illegal_parking",
                   title="乱停车")
    proc.on_event(msg(raise_), T0)
    proc.on_event(msg(cloud("claimed", "A", T0 + M, 2, claimant=PM), offset=1), T0 + M)
    proc.on_event(msg(cloud("claimed", "A", T0 + 2 * M, 3, claimant=PM), offset=2), T0 + 2 * M)
    proc.on_event(msg(cloud("claim_released", "A", T0 + 3 * M, 4, claimant=VOL), offset=3),
                  T0 + 3 * M)
    proc.on_event(msg(cloud("claimed", "B", T0 + 3 * M, 5, claimant=VOL), key=b"B", offset=4),
                  T0 + 3 * M)
    rejected = sink.on("issues.rejected")
    assert [(r["reason"], r["offset"]) for r in rejected] == [
        ("claim_held", 2), ("claim_not_held", 3), ("unknown_issue", 4)]
    assert "already holds a claim" in rejected[0]["detail"]
    assert "pm-0001" not in rejected[0]["detail"]  # the detail never repeats the input
    get = metrics.registry.get_sample_value
    assert get("whistle_events_rejected_total", {"reason": "claim_held"}) == 1
    assert get("whistle_events_total", {"type": "issue.claimed", "result": "rejected"}) == 2
    assert get("whistle_claims_total", {"kind": "party_member", "outcome": "claimed"}) == 1


def test_a_follow_retiming_keeps_the_claims_expiry() -> None:
    from engine.domain.decide import decide
    from tests.factories import event

    i = Issue()
    i.raise_()
    i.fact("claimed", 5, claimant=PM)
    newer = i.rules.model_copy(update={"version": "test0002"})
    assert i.state is not None
    d = decide(i.state, event("acknowledged", "A", T0 + 10 * M, unit="jinan-g1"), newer,
               T0 + 10 * M, follow=True)
    assert d.result == "accepted" and d.state is not None
    assert [e.data.reason for e in d.emit] == ["rules_changed"]  # re-timed by the new rules
    assert sorted((x.unit, x.due) for x in d.state.deadlines if x.kind == "claim") == [
        ("party_member:pm-0001", T0 + 95 * M)]


def test_the_loader_compiles_the_samples_claims_and_points() -> None:
    from pathlib import Path

    from engine.domain.ruleset import DEFAULT_CLAIMS
    from engine.rules.loader import load_ruleset

    root = Path(__file__).resolve().parent.parent
    rules = load_ruleset(root / "engine" / "sample" / "xishan").ruleset
    assert rules is not None
    assert str(rules.claims.expire_after) == "2 working days"
    assert str(rules.claims.expiry("emergency")) == "4h"
    assert str(rules.claims.expiry("parking-and-garbage")) == "2 working days"
    assert [p.id for p in rules.points][:2] == ["rider-report-urgent", "rider-report"]
    plain = load_ruleset(root / "tests" / "testdata" / "replays" / "rules").ruleset
    assert plain is not None and plain.claims == DEFAULT_CLAIMS and plain.points == ()


def test_rules_show_lists_claims_and_points(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from engine.cli import main

    sample = Path(__file__).resolve().parent.parent / "engine" / "sample" / "xishan"
    assert main(["rules", "show", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "claims: expire after 2 working days, emergency: 4h, safety-hazard: 4h" in out
    assert "  - claim-satisfied: 10 to the claimant on satisfied" in out
    assert main(["rules", "show", str(sample), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["claims"]["max_active"] == 8
    assert doc["points"][0] == {"id": "rider-report-urgent", "role": "reporter", "on": "resolved",
                                "points": 10, "kinds": ["rider"], "categories": [],
                                "severities": ["urgent", "emergency"]}
