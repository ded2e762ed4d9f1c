"""The core's decisions, one behaviour per test, on the wall-time rule set of factories.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.domain.decide import decide
from engine.domain.events import DeadlineReached, Outbound
from engine.domain.replay import Replayer
from engine.domain.state import IssueState
from tests.factories import T0, event, minutes, raised, ruleset

M = timedelta(minutes=1)


def run(*events, until=None, rules=None) -> tuple[Replayer, list[Outbound]]:
    r = Replayer(rules or ruleset())
    out: list[Outbound] = []
    for d in r.run(events, until=until):
        out.extend(d.emit)
    return r, out


def types(out: list[Outbound]) -> list[str]:
    return [e.type.removeprefix("issue.") for e in out]


def test_raise_assigns_the_grid_with_respond_and_resolve_limits() -> None:
    d = decide(None, raised("A", T0), ruleset(), T0)
    assert d.result == "accepted"
    (assigned,) = d.emit
    assert assigned.type == "issue.assigned"
    assert assigned.data.level == "grid" and assigned.data.units == ("jinan-g1",)
    assert assigned.data.respond_by == T0 + 30 * M
    assert assigned.data.resolve_by == T0 + 120 * M
    assert assigned.data.rule == "default" and assigned.data.rules_version == "test0001"
    assert assigned.id == "A:1:0" and assigned.data.sequence == 1


def test_raise_on_unknown_grid_is_rejected() -> None:
    d = decide(None, raised("A", T0, grid="nowhere"), ruleset(), T0)
    assert (d.result, d.reason, d.state) == ("rejected", "unknown_grid", None)


def test_grid_resolves_in_time_and_resident_is_satisfied() -> None:
    r, out = run(
        raised("A", T0),
        event("acknowledged", "A", T0 + 5 * M, unit="jinan-g1"),
        event("resolved", "A", T0 + 60 * M, unit="jinan-g1"),
        event("rated", "A", T0 + 90 * M, satisfied=True, score=5),
    )
    assert types(out) == ["assigned", "closed"]
    closed = out[-1].data
    assert closed.outcome == "resolved" and closed.satisfied is True and closed.on_time
    assert closed.closed_level == "grid" and closed.breaches == 0
    assert [p.response for p in closed.path] == ["on_time"]
    assert r.states["A"].status == "closed"


def test_respond_overdue_escalates_to_the_village_at_the_due_time() -> None:
    _, out = run(raised("A", T0), until=T0 + 31 * M)
    assert types(out) == ["assigned", "warning", "overdue", "escalated", "assigned"]
    esc = out[3]
    assert esc.data.reason == "respond_overdue" and esc.time == T0 + 30 * M
    assert (esc.data.from_level, esc.data.to_level) == ("grid", "village")
    assert out[4].data.units == ("jinan",) and out[4].data.respond_by == T0 + 90 * M
    assert out[1].data.due == T0 + 30 * M and out[1].time == T0 + 24 * M  # warned at 80%


def test_whistle_from_street_assigns_route_departments_with_report_deadlines() -> None:
    _, out = run(
        raised("A", T0),
        event("whistled", "A", T0 + M, unit="jinan-g1", reason="需要上级协调"),
        event("whistled", "A", T0 + 2 * M, unit="jinan", reason="村级无法解决"),
        event("whistled", "A", T0 + 3 * M, unit="dongting", reason="涉及多部门"),
    )
    last = out[-1].data
    assert last.level == "department" and last.units == ("traffic_police", "urban_management")
    assert last.lead == "traffic_police"
    assert last.report_by == {
        "traffic_police": T0 + 63 * M, "urban_management": T0 + 63 * M
    }


def test_whistle_names_departments_over_the_route() -> None:
    _, out = run(
        raised("A", T0, severity="emergency"),
        event("whistled", "A", T0 + M, unit="dongting", departments=["housing"]),
    )
    assert out[-1].data.units == ("housing",) and out[-1].data.lead == "housing"


def test_whistle_to_unknown_department_does_not_fit() -> None:
    r = Replayer(ruleset())
    list(r.feed(raised("A", T0, severity="emergency")))
    (d,) = list(r.feed(event("whistled", "A", T0 + M, unit="dongting", departments=["nope"])))
    assert (d.result, d.reason, d.emit) == ("unfit", "unknown_department", ())
    assert r.states["A"].level == "street"


def test_reports_on_time_late_and_missed_are_settled_at_closure() -> None:
    _, out = run(
        raised("A", T0, severity="emergency"),
        event("whistled", "A", T0 + M, unit="dongting"),
        event("reported", "A", T0 + 30 * M, department="traffic_police"),
        event("resolved", "A", T0 + 5 * 60 * M, unit="traffic_police"),
        event("rated", "A", T0 + 6 * 60 * M, satisfied=True),
    )
    closed = out[-1].data
    assert {r.department: r.outcome for r in closed.reports} == {
        "traffic_police": "on_time", "urban_management": "missed"
    }
    assert "overdue" in types(out)


def test_report_after_its_deadline_is_late() -> None:
    r, _ = run(
        raised("A", T0, severity="emergency"),
        event("whistled", "A", T0 + M, unit="dongting"),
        event("reported", "A", T0 + 90 * M, department="urban_management"),
    )
    (rec,) = [x for x in r.states["A"].reports if x.department == "urban_management"]
    assert rec.outcome == "late" and rec.reported_at == T0 + 90 * M


def test_unsatisfied_reopens_at_the_same_level_then_escalates() -> None:
    _, out = run(
        raised("A", T0),
        event("acknowledged", "A", T0 + M, unit="jinan-g1"),
        event("resolved", "A", T0 + 10 * M, unit="jinan-g1"),
        event("rated", "A", T0 + 20 * M, satisfied=False, score=2),
        event("resolved", "A", T0 + 30 * M, unit="jinan-g1"),
        event("rated", "A", T0 + 40 * M, satisfied=False, score=1),
    )
    assert types(out) == ["assigned", "reopened", "assigned", "escalated", "assigned"]
    assert out[1].data.count == 1 and out[1].data.level == "grid"
    assert out[2].data.resolve_by == T0 + 140 * M
    assert out[3].data.reason == "reopened_too_often" and out[3].data.to_level == "village"


def test_no_rating_in_the_window_closes_unrated() -> None:
    _, out = run(
        raised("A", T0),
        event("resolved", "A", T0 + 10 * M, unit="jinan-g1"),
        until=T0 + timedelta(days=4),
    )
    closed = out[-1].data
    assert out[-1].type == "issue.closed" and closed.satisfied is None
    assert out[-1].time == T0 + 10 * M + timedelta(days=3)


def test_withdrawn_half_way_closes_with_the_path_so_far() -> None:
    _, out = run(
        raised("A", T0),
        event("whistled", "A", T0 + M, unit="jinan-g1"),
        event("withdrawn", "A", T0 + 2 * M, reason="已自行解决"),
    )
    closed = out[-1].data
    assert closed.outcome == "withdrawn" and not closed.on_time
    assert [p.level for p in closed.path] == ["grid", "village"]


def test_emergency_skips_grid_and_village() -> None:
    _, out = run(raised("A", T0, severity="emergency"))
    assert out[0].data.level == "street" and out[0].data.rule == "emergency"


@pytest.mark.parametrize(
    ("kind", "data", "reason"),
    [
        ("acknowledged", {"unit": "jinan-g2"}, "not_holder"),
        ("rated", {"satisfied": True}, "not_resolved"),
        ("reported", {"department": "housing"}, "no_report_due"),
        ("whistled", {"unit": "jinan"}, "not_holder"),
        ("resolved", {"unit": "dongting"}, "not_holder"),
    ],
)
def test_an_event_that_does_not_fit_changes_nothing_but_is_counted(kind, data, reason) -> None:
    r = Replayer(ruleset())
    list(r.feed(raised("A", T0)))
    before = r.states["A"]
    (d,) = list(r.feed(event(kind, "A", T0 + M, **data)))
    assert (d.result, d.reason, d.emit) == ("unfit", reason, ())
    after = r.states["A"]
    assert after.version == before.version
    assert after.model_dump(exclude={"seen", "last_trigger"}) == (
        before.model_dump(exclude={"seen", "last_trigger"})
    )


def test_events_after_closure_change_nothing() -> None:
    r, _ = run(raised("A", T0), event("withdrawn", "A", T0 + M))
    closed = r.states["A"]
    (d,) = list(r.feed(event("acknowledged", "A", T0 + 2 * M, unit="jinan-g1")))
    assert (d.result, d.reason) == ("unfit", "closed")
    assert d.state is not None and d.state.status == "closed" and d.state.version == closed.version


def test_a_duplicate_event_or_deadline_changes_and_emits_nothing() -> None:
    # (re-sending what it produced is the shell's: the outbox stored beside the state)
    rules = ruleset()
    first = raised("A", T0)
    d1 = decide(None, first, rules, T0)
    assert d1.emit
    d2 = decide(d1.state, first, rules, T0)
    assert d2.result == "duplicate" and d2.state == d1.state and d2.emit == ()
    ack = event("acknowledged", "A", T0 + M, unit="jinan-g1")
    d3 = decide(d2.state, ack, rules, T0 + M)
    d4 = decide(d3.state, first, rules, T0 + M)  # an older duplicate
    assert d4.result == "duplicate" and d4.emit == () and d4.state == d3.state
    assert d3.state is not None
    due = min(d3.state.deadlines, key=lambda d: d.due)
    tick = DeadlineReached(issue_id="A", due=due.due, token=due.token)
    d5 = decide(d3.state, tick, rules, due.due)
    assert d5.result == "accepted" and d5.emit
    d6 = decide(d5.state, tick, rules, due.due)  # the same tick again
    assert d6.result == "duplicate" and d6.emit == () and d6.state == d5.state


def test_a_stale_deadline_token_is_a_no_op() -> None:
    rules = ruleset()
    d1 = decide(None, raised("A", T0), rules, T0)
    state: IssueState = d1.state  # type: ignore[assignment]
    respond = next(d for d in state.deadlines if d.kind == "respond" and not d.warning)
    d2 = decide(state, event("acknowledged", "A", T0 + M, unit="jinan-g1"), rules, T0 + M)
    tick = DeadlineReached(issue_id="A", due=respond.due, token=respond.token)
    d3 = decide(d2.state, tick, rules, respond.due)
    assert d3.result == "stale" and d3.emit == () and d3.state == d2.state


def test_a_fact_after_a_missed_deadline_sees_the_deadline_fire_first() -> None:
    """The outcome must not depend on whether the runtime's tick came before the fact."""
    rules = ruleset()
    d1 = decide(None, raised("A", T0), rules, T0)
    late_ack = event("acknowledged", "A", T0 + 45 * M, unit="jinan-g1")
    d2 = decide(d1.state, late_ack, rules, T0 + 45 * M)
    assert d2.result == "unfit" and d2.reason == "not_holder"
    assert [e.type for e in d2.emit][-2:] == ["issue.escalated", "issue.assigned"]


def test_counts_follow_the_decisions() -> None:
    r = Replayer(ruleset())
    counts = [c for d in r.run([raised("B", T0)], until=T0 + 31 * M) for c in d.counts]
    families = [c.family for c in counts]
    assert families == [
        "whistle_issues_raised_total",
        "whistle_deadline_warnings_total",
        "whistle_deadlines_missed_total",
        "whistle_responses_total",
        "whistle_escalations_total",
    ]
    assert dict(counts[3].labels) == {"level": "grid", "outcome": "missed", "street": "dongting"}


def faster_rules() -> Any:
    """The same rule set with the grid's resolve limit halved, under a new version."""
    from engine.domain.ruleset import Step

    rules = ruleset()
    default = rules.rule("default")
    assert default is not None
    ladder = (Step(level="grid", respond=minutes(30), resolve=minutes(60)), *default.ladder[1:])
    changed = default.model_copy(update={"ladder": ladder})
    return rules.model_copy(update={
        "version": "test0002",
        "rules": tuple(changed if r.id == "default" else r for r in rules.rules),
    })


def test_by_default_an_issue_keeps_the_limits_in_force_when_it_entered_its_level() -> None:
    d1 = decide(None, raised("A", T0), ruleset(), T0)
    ack = event("acknowledged", "A", T0 + M, unit="jinan-g1")
    d2 = decide(d1.state, ack, faster_rules(), T0 + M)
    assert d2.emit == () and d2.state is not None
    assert d2.state.resolve_by == T0 + 120 * M and d2.state.rules_version == "test0001"
    whistle = event("whistled", "A", T0 + 2 * M, unit="jinan-g1")
    d3 = decide(d2.state, whistle, faster_rules(), T0 + 2 * M)
    assert d3.state is not None and d3.state.rules_version == "test0002"  # its new level


def test_with_follow_the_next_decision_retimes_the_level_under_the_new_rules() -> None:
    d1 = decide(None, raised("A", T0), ruleset(), T0)
    ack = event("acknowledged", "A", T0 + M, unit="jinan-g1")
    d2 = decide(d1.state, ack, faster_rules(), T0 + M, follow=True)
    (assigned,) = d2.emit
    assert assigned.data.reason == "rules_changed" and assigned.data.rules_version == "test0002"
    assert assigned.data.resolve_by == T0 + 60 * M
    assert d2.state is not None and d2.state.response == "on_time"


def with_ladder(rule_id: str, ladder: Any, version: str) -> Any:
    rules = ruleset()
    rule = rules.rule(rule_id)
    assert rule is not None
    changed = rule.model_copy(update={"ladder": ladder})
    return rules.model_copy(update={
        "version": version, "rules": tuple(changed if r.id == rule_id else r for r in rules.rules)})


def test_follow_does_not_give_missed_limits_again() -> None:
    """Re-timing under new rules re-arms only limits still pending: a missed one stays missed."""
    r, _ = run(raised("A", T0, severity="emergency"),
               event("whistled", "A", T0 + M, unit="dongting"), until=T0 + 30 * 60 * M)
    state = r.states["A"]
    breaches = state.breaches
    assert breaches >= 2  # both report limits and the resolve limit passed
    newer = ruleset().model_copy(update={"version": "test0003"})
    d = decide(state, event("progressed", "A", T0 + 30 * 60 * M, unit="traffic_police"), newer,
               T0 + 30 * 60 * M, follow=True)
    assert [e.type for e in d.emit] == ["issue.assigned"]
    assert d.state is not None and d.state.breaches == breaches


def test_a_reload_that_shortens_the_ladder_climbs_by_level_not_by_position() -> None:
    from engine.domain.ruleset import Step

    r, _ = run(raised("A", T0), event("whistled", "A", T0 + M, unit="jinan-g1"),
               event("whistled", "A", T0 + 2 * M, unit="jinan"))
    assert r.states["A"].level == "street"
    short = with_ladder("default", (Step(level="grid", respond=minutes(30),
                                         resolve=minutes(120)), Step(level="department")), "t4")
    r.rules = short
    out = [e for d in r.advance(T0 + 10 * 60 * M) for e in d.emit]
    climbs = [(e.data.from_level, e.data.to_level) for e in out if e.type == "issue.escalated"]
    assert climbs == [("street", "department")] and r.states["A"].level == "department"


def test_a_reopened_issue_keeps_its_pending_reports() -> None:
    _, out = run(
        raised("A", T0, severity="emergency"),
        event("whistled", "A", T0 + M, unit="dongting"),
        event("resolved", "A", T0 + 10 * M, unit="traffic_police"),
        event("rated", "A", T0 + 20 * M, satisfied=False),
        until=T0 + 3 * 60 * M,
    )
    reopened = [e for e in out if e.type == "issue.assigned" and e.data.reason == "reopened"]
    assert set(reopened[0].data.report_by) == {"traffic_police", "urban_management"}
    overdue = [e.data.unit for e in out if e.type == "issue.overdue" and e.data.kind == "report"]
    assert sorted(overdue) == ["traffic_police", "urban_management"]


def test_an_unknown_department_hint_is_ignored() -> None:
    _, out = run(raised("A", T0, severity="emergency", departments=["no_such_dept"]),
                 event("whistled", "A", T0 + M, unit="dongting"))
    assert out[-1].data.units == ("traffic_police", "urban_management")


def test_a_fact_exactly_at_its_limit_is_on_time_in_replays_too() -> None:
    r, _ = run(raised("A", T0), event("acknowledged", "A", T0 + 30 * M, unit="jinan-g1"))
    assert r.states["A"].response == "on_time" and r.states["A"].level == "grid"


def test_every_family_the_core_counts_is_a_metric_the_shell_exports() -> None:
    from engine.agents.metrics import Metrics
    from engine.domain.decision import FAMILIES

    exported = set(Metrics().families)
    assert set(FAMILIES) <= exported, set(FAMILIES) - exported
    # and the core counts nothing else: every count of a replayed history names a family
    rules = ruleset()
    replayer = Replayer(rules)
    counted = {c.family for d in replayer.run([raised("F-1", T0)], until=T0 + timedelta(days=60))
               for c in d.counts}
    assert counted and counted <= set(FAMILIES)
