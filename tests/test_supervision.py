"""Supervision (督办/催办): the urging ladder after a missed limit (engine.domain.urging)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.decide import decide
from engine.domain.events import DeadlineReached, IssueClosed
from engine.domain.replay import Replayer
from engine.domain.ruleset import UrgeStep, Urging
from tests.factories import T0, event, minutes, raised
from tests.workflow_rules import LADDER, with_workflow

H = timedelta(hours=1)


def to_departments(r: Replayer, issue: str = "S1") -> None:
    """An emergency: the street (15m/60m) acknowledges and whistles to the departments at
    T0+10m; the route's lead, traffic police, has 24 h to resolve (due T0+24h10m)."""
    list(r.feed(raised(issue, T0, severity="emergency")))
    list(r.feed(event("acknowledged", issue, T0 + timedelta(minutes=5), unit="dongting")))
    list(r.feed(event("whistled", issue, T0 + timedelta(minutes=10), unit="dongting")))


MISSED = T0 + timedelta(hours=24, minutes=10)


def test_a_department_that_misses_its_limit_is_urged_up_to_a_supervision_case() -> None:
    r = Replayer(with_workflow(LADDER))
    to_departments(r)
    decisions = list(r.advance(MISSED + 5 * H))
    out = [e for d in decisions for e in d.emit if e.type in (
        "issue.urged", "issue.supervised") or getattr(e.data, "kind", "") == "resolve"]
    kinds = [(e.type, e.time) for e in out]
    assert kinds == [
        ("issue.warning", MISSED - timedelta(hours=24) * 0.2),
        ("issue.overdue", MISSED),
        ("issue.urged", MISSED),
        ("issue.urged", MISSED + H),
        ("issue.supervised", MISSED + 3 * H),
    ]
    urged = [e.data for e in out if e.type in ("issue.urged", "issue.supervised")]
    assert [u.step for u in urged] == [1, 2, 3]  # type: ignore[attr-defined]
    assert [u.copy_to for u in urged] == [(), ("dongting",), ("dongting", "housing")]  # type: ignore[attr-defined]
    assert {u.units for u in urged} == {("traffic_police",)}  # type: ignore[attr-defined]
    assert {u.due for u in urged} == {MISSED}  # type: ignore[attr-defined]
    counts = [c for d in decisions for c in d.counts if c.family in (
        "whistle_urgings_total", "whistle_supervisions_total")]
    assert [(c.family, dict(c.labels)) for c in counts] == [
        ("whistle_urgings_total", {"unit": "traffic_police", "step": "1", "level": "department"}),
        ("whistle_urgings_total", {"unit": "traffic_police", "step": "2", "level": "department"}),
        ("whistle_supervisions_total", {"unit": "traffic_police", "level": "department"}),
        ("whistle_urgings_total", {"unit": "traffic_police", "step": "3", "level": "department"}),
    ]
    state = r.states["S1"]
    assert state.urged == 3 and state.supervised
    assert not [d for d in state.deadlines if d.kind == "urge"]  # the ladder is done


def test_the_closure_counts_the_urgings_and_says_it_was_supervised() -> None:
    r = Replayer(with_workflow(LADDER))
    to_departments(r)
    list(r.advance(MISSED + 5 * H))
    list(r.feed(event("resolved", "S1", MISSED + 6 * H, unit="traffic_police")))
    out = [e for d in r.feed(event("rated", "S1", MISSED + 7 * H, satisfied=True))
           for e in d.emit]
    (closed,) = [e for e in out if isinstance(e, IssueClosed)]
    assert closed.data.urgings == 3 and closed.data.supervised is True
    assert closed.data.on_time is False and closed.data.parked == ()


def test_resolving_stops_the_ladder() -> None:
    r = Replayer(with_workflow(LADDER))
    to_departments(r)
    list(r.advance(MISSED + 30 * timedelta(minutes=1)))
    list(r.feed(event("resolved", "S1", MISSED + 40 * timedelta(minutes=1),
                      unit="traffic_police")))
    later = [e.type for d in r.advance(MISSED + 10 * H) for e in d.emit]
    assert "issue.urged" not in later and "issue.supervised" not in later
    assert r.states["S1"].urged == 1


def test_a_missed_limit_that_climbs_is_not_urged() -> None:
    # the grid misses its respond limit and the village takes it: escalation, not urging
    r = Replayer(with_workflow(Urging(limit="respond", steps=(UrgeStep(),))))
    list(r.feed(raised("C1", T0)))
    out = [e.type for d in r.advance(T0 + timedelta(minutes=31)) for e in d.emit]
    assert "issue.escalated" in out and "issue.urged" not in out


def test_the_ladder_follows_only_its_own_limit() -> None:
    # a respond ladder: the department rung has no respond limit, its missed resolve is not urged
    r = Replayer(with_workflow(Urging(limit="respond", steps=(UrgeStep(),))))
    to_departments(r)
    out = [e.type for d in r.advance(MISSED + 5 * H) for e in d.emit]
    assert "issue.overdue" in out and "issue.urged" not in out


def test_a_redelivered_tick_sends_nothing_again() -> None:
    rules = with_workflow(LADDER)
    r = Replayer(rules)
    to_departments(r)
    list(r.advance(MISSED))
    state = r.states["S1"]
    (urge,) = [d for d in state.deadlines if d.kind == "urge"]
    tick = DeadlineReached(issue_id="S1", due=urge.due, token=urge.token)
    first = decide(state, tick, rules, urge.due)
    assert [e.type for e in first.emit] == ["issue.urged"]
    assert first.state is not None
    again = decide(first.state, tick, rules, urge.due)
    assert again.result in ("duplicate", "stale") and not again.emit
    # the same decision from the same state gives the same ids (deterministic)
    assert [e.id for e in decide(state, tick, rules, urge.due).emit] == [
        e.id for e in first.emit]


def test_decay_keeps_urgings_apart() -> None:
    ladder = Urging(limit="resolve", decay=minutes(45), steps=(
        UrgeStep(), UrgeStep(after=minutes(10)), UrgeStep(after=minutes(120))))
    r = Replayer(with_workflow(ladder))
    to_departments(r)
    times = [e.time for d in r.advance(MISSED + 5 * H) for e in d.emit if e.type == "issue.urged"]
    assert times == [MISSED, MISSED + timedelta(minutes=45), MISSED + timedelta(minutes=120)]


@settings(max_examples=60, deadline=None)
@given(afters=st.lists(st.integers(1, 600), min_size=1, max_size=5),
       decay=st.integers(0, 240), supervise=st.booleans())
def test_urgings_come_in_order_spaced_by_the_decay_each_step_once(
        afters: list[int], decay: int, supervise: bool) -> None:
    afters = sorted(afters)
    steps = [UrgeStep(after=minutes(a)) for a in afters]
    if supervise:
        steps[-1] = steps[-1].model_copy(update={"supervise": True})
    ladder = Urging(limit="resolve", decay=minutes(decay) if decay else None, steps=tuple(steps))
    r = Replayer(with_workflow(ladder))
    to_departments(r)
    sent = [e for d in r.advance(MISSED + 24 * H) for e in d.emit
            if e.type in ("issue.urged", "issue.supervised")]
    assert [e.data.step for e in sent] == list(range(1, len(steps) + 1))  # type: ignore[attr-defined]
    for a, b, after in zip(sent, sent[1:], afters[1:], strict=False):
        assert b.time - a.time >= timedelta(minutes=decay)
        assert b.time >= MISSED + timedelta(minutes=after)
    assert (sent[-1].type == "issue.supervised") is supervise
    assert len({e.id for e in sent}) == len(sent)


def test_rules_explain_shows_the_urging_ladder_and_parking_as_the_core_runs_them() -> None:
    from pathlib import Path

    from engine.domain.events import IssueRaised
    from engine.explain import explain, render
    from engine.rules.loader import load_ruleset

    rules = load_ruleset(Path(__file__).resolve().parent.parent / "engine/sample/xishan").ruleset
    assert rules is not None
    raised_event = IssueRaised.model_validate(
        {"id": "x", "source": "grid-app/xishan", "subject": "XS-1",
         "time": "2026-11-23T09:00:00+08:00",
         "data": {"grid": "anzhen-jinan-g1", "category": "old_compound_renovation",
                  "title": "加装电梯"}}, strict=False)
    report = explain(raised_event, rules)
    top = report["ladder"][-1]
    steps = report["urging"]["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert steps[0]["at"] == top["resolve_by"]  # urged at the miss of the top rung's limit
    assert [s["type"] for s in steps] == ["issue.urged", "issue.urged", "issue.supervised"]
    assert steps[1]["copy_to"] == ["anzhen"] and steps[0]["unit"] == "housing"
    assert report["parking"] == {"approvers": ["above", "housing"], "max_review": "180d"}
    text = render(report)
    assert "3. 2027-03-15 Mon 09:00  supervision case of housing, copied to anzhen" in text
    assert "parking (挂账): approved by above, housing, review within 180d" in text
