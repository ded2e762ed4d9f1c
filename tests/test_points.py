"""Points (积分) in the core: awards on resolution and on a satisfied closure, reversals on
reopening and withdrawal, deterministic ids; and a property over any history of facts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain.events import PointsAwarded, PointsReversed
from engine.domain.points import ledger_id
from tests.factories import T0
from tests.people import PM, RIDER, VOL, Issue, M


def ledger(i: Issue) -> list[tuple[str, str, str, int]]:
    out = []
    for e in i.emitted():
        if isinstance(e, PointsAwarded | PointsReversed):
            out.append((e.type, e.data.person.id, e.data.rule, e.data.points))
    return out


def resolved_with_claimant(reporter: dict[str, str] | None = RIDER, **extra: Any) -> Issue:
    i = Issue()
    i.raise_(reporter=reporter, **extra)
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 3, claimant=PM)
    i.fact("resolved", 30, unit="jinan-g1", claimant=PM)
    return i


def test_a_resolution_awards_the_reporter_and_the_claimants_holding_a_claim() -> None:
    i = resolved_with_claimant()
    assert ledger(i) == [("points.awarded", "rd-0003", "rider", 5),
                         ("points.awarded", "pm-0001", "claim-resolved", 3)]
    award = i.emitted("points.awarded")[0]
    assert award.time == T0 + 30 * M and award.id == award.data.award_id
    assert award.data.role == "reporter" and award.data.on == "resolved"
    assert (award.data.category, award.data.severity, award.data.street) == (
        "illegal_parking", "normal", "dongting")
    counts = [c for d in i.decisions for c in d.counts if c.family.startswith("whistle_points")]
    assert counts == [
        ("whistle_points_awarded_total", (("kind", "rider"), ("rule", "rider")), 5.0),
        ("whistle_points_awarded_total", (("kind", "party_member"), ("rule", "claim-resolved")),
         3.0)]


def test_the_first_matching_rule_awards_by_severity() -> None:
    i = resolved_with_claimant(severity="urgent")
    assert ledger(i)[0] == ("points.awarded", "rd-0003", "rider-urgent", 10)


def test_an_anonymous_reporter_and_a_released_claimant_earn_nothing() -> None:
    i = Issue()
    i.raise_(reporter={"kind": "rider"})  # no id: nobody to credit
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 3, claimant=PM)
    i.fact("claim_released", 4, claimant=PM)
    i.fact("resolved", 30, unit="jinan-g1")
    i.fact("rated", 40, satisfied=True)
    assert ledger(i) == []


def test_a_satisfied_rating_awards_the_satisfied_rules_and_the_awards_stand() -> None:
    i = resolved_with_claimant()
    i.fact("rated", 40, satisfied=True)
    assert ledger(i)[2:] == [("points.awarded", "pm-0001", "claim-satisfied", 7)]
    assert i.state is not None and i.state.status == "closed"


def test_a_closure_by_the_rating_window_keeps_the_resolution_awards_only() -> None:
    i = resolved_with_claimant()
    i.tick(4 * 24 * 60)  # no rating within 3 days: closed, unrated
    assert i.state is not None and i.state.status == "closed"
    assert [t for t, *_ in ledger(i)] == ["points.awarded", "points.awarded"]


def test_an_unsatisfied_rating_reverses_the_awards_and_the_next_resolution_awards_anew() -> None:
    i = resolved_with_claimant()
    awards = i.emitted("points.awarded")
    i.fact("rated", 40, satisfied=False)
    reversals = i.emitted("points.reversed")
    assert [r.data.award_id for r in reversals] == [a.id for a in awards]
    assert [r.id for r in reversals] == [ledger_id("reverse", a.id) for a in awards]
    assert {r.data.reason for r in reversals} == {"reopened"}
    assert [(r.data.person.id, r.data.points) for r in reversals] == [("rd-0003", 5),
                                                                      ("pm-0001", 3)]
    i.fact("resolved", 60, unit="jinan-g1", claimant=PM)
    again = i.emitted("points.awarded")[2:]
    assert [a.data.rule for a in again] == ["rider", "claim-resolved"]
    assert not {a.id for a in again} & {a.id for a in awards}  # a new award, a new id


def test_reopened_too_often_climbs_and_reverses_too() -> None:
    i = resolved_with_claimant()
    i.fact("rated", 40, satisfied=False)  # reopen 1 (max_reopens 1)
    i.fact("resolved", 60, unit="jinan-g1")
    i.fact("rated", 70, satisfied=False)  # reopened too often: climbs to the village
    assert i.state is not None and i.state.level == "village"
    net = Counter[str]()
    for kind, person, _, points in ledger(i):
        net[person] += points if kind == "points.awarded" else -points
    assert all(v == 0 for v in net.values()) and net


def test_a_withdrawal_while_awaiting_the_rating_reverses_the_awards() -> None:
    i = resolved_with_claimant()
    i.fact("withdrawn", 45, reason="已自行解决")
    assert [(t, r) for t, _, r, _ in ledger(i)][2:] == [
        ("points.reversed", "rider"), ("points.reversed", "claim-resolved")]
    assert {e.data.reason for e in i.emitted("points.reversed")} == {"withdrawn"}


def test_ids_are_a_function_of_what_the_award_is_for() -> None:
    a, b = resolved_with_claimant(), resolved_with_claimant()
    assert [e.id for e in a.emitted("points.awarded")] == [
        e.id for e in b.emitted("points.awarded")]
    other = Issue(issue="B")
    other.raise_(reporter=RIDER)
    other.fact("acknowledged", 2, unit="jinan-g1")
    other.fact("resolved", 30, unit="jinan-g1")
    assert other.emitted("points.awarded")[0].id != a.emitted("points.awarded")[0].id
    assert a.emitted("points.awarded")[0].id == ledger_id(
        "award", "A", "resolution-0", "rider", "reporter", "rider", "rd-0003")


def test_a_redelivered_fact_emits_nothing_again() -> None:
    i = Issue()
    i.raise_(reporter=RIDER)
    i.fact("acknowledged", 2, unit="jinan-g1")
    resolved = i.decisions[-1]
    from tests.factories import event
    fact = event("resolved", "A", T0 + 30 * M, unit="jinan-g1")
    first = i.feed(fact)
    assert [e.type for e in first.emit] == ["points.awarded"]
    again = i.feed(fact)
    assert (again.result, again.emit, again.counts) == ("duplicate", (), ())
    assert resolved is not first


# --- the property ------------------------------------------------------------------------------

PEOPLE = (PM, VOL, RIDER)
STEP = st.tuples(
    st.sampled_from(["claimed", "claim_released", "acknowledged", "progressed", "progressed_by",
                     "resolved", "resolved_by", "rated_yes", "rated_no", "withdrawn", "whistled"]),
    st.integers(0, 2),  # who (claims and acts)
    st.integers(1, 90),  # minutes after the previous fact
    st.booleans(),  # deliver it twice
)


def holder(i: Issue) -> str:
    assert i.state is not None
    return i.state.lead or i.state.units[0]


def run(steps: list[tuple[str, int, int, bool]], severity: str) -> Issue:
    from tests.factories import event

    i = Issue()
    i.raise_(reporter=RIDER, severity=severity)
    minute = 0
    for kind, who, delta, twice in steps:
        minute += delta
        person = PEOPLE[who]
        data: dict[str, Any] = {
            "claimed": {"claimant": person}, "claim_released": {"claimant": person},
            "rated_yes": {"satisfied": True}, "rated_no": {"satisfied": False},
            "withdrawn": {}, "whistled": {"unit": holder(i)},
        }.get(kind, {"unit": holder(i)})
        if kind.endswith("_by"):
            data["claimant"] = person
        name = kind.removesuffix("_by").removesuffix("_yes").removesuffix("_no")
        fact = event(name, "A", T0 + minute * M, **data)
        i.feed(fact)
        if twice:
            again = i.feed(fact)
            assert again.emit == () and again.result in ("duplicate", "rejected")
        assert_never_negative(i)
    for _ in range(50):  # run the clock on until every deadline has fired
        if i.state is None or not i.state.deadlines:
            break
        i.tick(minute + 30 * 24 * 60)
    return i


def assert_never_negative(i: Issue) -> None:
    net = Counter[str]()
    for kind, person, _, points in ledger(i):
        net[person] += points if kind == "points.awarded" else -points
        assert net[person] >= 0, (person, ledger(i))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, max_size=14), st.sampled_from(["normal", "urgent"]))
def test_points_per_person_equal_what_the_closure_says_they_earned(
    steps: list[tuple[str, int, int, bool]], severity: str,
) -> None:
    i = run(steps, severity)
    state = i.state
    assert state is not None
    net = Counter[str]()
    for kind, person, _, points in ledger(i):
        net[person] += points if kind == "points.awarded" else -points
    closed = i.emitted("issue.closed")
    want = Counter[str]()
    if closed and closed[0].data.outcome == "resolved":
        data = closed[0].data
        want["rd-0003"] += 10 if severity == "urgent" else 5
        resolved_at = state.resolved_at
        assert resolved_at is not None
        for c in data.claims:
            ended = c.released_at or c.expired_at
            if c.claimed_at <= resolved_at and (ended is None or ended > resolved_at):
                want[c.claimant.id] += 3  # held when it was resolved
            if data.satisfied and c.outcome == "held":
                want[c.claimant.id] += 7
    assert +net == +want, (ledger(i), closed)
    # the same history again: the same ledger, id for id
    assert [e.id for e in run(steps, severity).emitted() if e.type.startswith("points.")] == [
        e.id for e in i.emitted() if e.type.startswith("points.")]
    # ids are unique (an award once; a reversal once per award)
    ids = [e.id for e in i.emitted() if e.type.startswith("points.")]
    assert len(ids) == len(set(ids))
