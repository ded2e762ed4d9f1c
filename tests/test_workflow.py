"""Returns (退单) and extensions (延期) in the core: every move, every refusal, the counts.

Run on the golden replays' workflow rules (tests/testdata/replays/rules-workflow): returns
adjudicated by the level above within 2 working days (the default rule: 1 working day, once,
with the clock paused), extensions approved by the level above up to 3 working days and by the
district centre up to 10, twice per assignment, 10 working days in all.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain.decision import Decision
from engine.domain.events import INBOUND_TYPES, Envelope, IssueClosed
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset
from engine.domain.state import IssueState
from engine.rules.loader import load_ruleset

RULES = Path(__file__).parent / "testdata" / "replays" / "rules-workflow"
CST = timezone(timedelta(hours=8))
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=CST)  # an ordinary working Monday


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    result = load_ruleset(RULES)
    assert result.ruleset is not None, result.errors
    return result.ruleset


def ev(kind: str, at: datetime, n: int, **data: Any) -> Envelope:
    return INBOUND_TYPES[f"issue.{kind}"].model_validate(
        {"id": f"t-{n}", "source": "test", "subject": "W-1", "time": at.isoformat(),
         "type": f"issue.{kind}", "data": data}, strict=False)


class Run:
    """Facts fed one at a time through the replayer (deadlines fire in between)."""

    def __init__(self, rules: Ruleset) -> None:
        self.replayer = Replayer(rules)
        self.decisions: list[Decision] = []
        self.n = 0

    def __call__(self, kind: str, at: datetime, **data: Any) -> Decision:
        self.n += 1
        got = list(self.replayer.feed(ev(kind, at, self.n, **data)))
        self.decisions += got
        return got[-1]

    @property
    def state(self) -> IssueState:
        return self.replayer.states["W-1"]

    def emitted(self, type_: str) -> list[Any]:
        return [e for d in self.decisions for e in d.emit if e.type == type_]

    def counts(self, family: str) -> Counter[tuple[tuple[str, str], ...]]:
        out: Counter[tuple[tuple[str, str], ...]] = Counter()
        for d in self.decisions:
            for c in d.counts:
                if c.family == family:
                    out[c.labels] += int(c.value)
        return out


def at_departments(rules: Ruleset) -> Run:
    """Illegal parking whistled by the street to the traffic police (lead) and urban management
    at 09:30 on Monday: the department rung's resolve limit is Thursday 09:30."""
    run = Run(rules)
    run("raised", MONDAY, grid="jinan-g1", category="illegal_parking", title="占道停车")
    run("acknowledged", MONDAY + timedelta(minutes=10), unit="dongting")
    run("whistled", MONDAY + timedelta(minutes=30), unit="dongting")
    assert run.state.level == "department" and run.state.lead == "traffic_police"
    return run


def at_grid(rules: Ruleset) -> Run:
    run = Run(rules)
    run("raised", MONDAY, grid="jinan-g1", category="greening", title="绿化带缺株")
    return run


# --- returns -------------------------------------------------------------------------------


def test_an_accepted_return_re_routes_the_department_rung_and_starts_new_limits(
        rules: Ruleset) -> None:
    run = at_departments(rules)
    t = MONDAY + timedelta(hours=1)
    assert run("return_requested", t, unit="traffic_police", reason_code="not_ours",
               suggested="housing").result == "accepted"
    pending = run.emitted("issue.return_pending")[-1].data
    assert (pending.adjudicator, pending.paused, pending.suggested) == ("dongting", False,
                                                                          "housing")
    decided = MONDAY + timedelta(hours=2)
    assert run("return_decided", decided, decision="accepted", by="dongting").result == (
        "accepted")
    s = run.state
    assert (s.level, s.units, s.lead, s.entered_at) == (
        "department", ("housing",), "housing", decided.astimezone(UTC))
    assigned = run.emitted("issue.assigned")[-1].data
    assert assigned.reason == "return_accepted"
    assert assigned.resolve_by == datetime(2026, 11, 26, 11, 0, tzinfo=CST)  # 3 working days
    assert [p.units for p in s.path][-1] == ("traffic_police", "urban_management")
    assert all(d.token == s.version for d in s.deadlines)  # every limit armed anew
    assert {d.unit for d in s.deadlines} == {"housing"}
    assert run.counts("whistle_returns_total") == Counter({
        (("unit", "traffic_police"), ("stage", "requested")): 1,
        (("unit", "traffic_police"), ("stage", "accepted")): 1})


def test_a_wrong_place_return_at_the_grid_moves_the_issue_to_the_other_grid(
        rules: Ruleset) -> None:
    run = at_grid(rules)
    run("return_requested", MONDAY + timedelta(minutes=5), unit="jinan-g1",
        reason_code="wrong_place", suggested="jinan-g2")
    assert run.state.response == "on_time"  # returning it answered it
    run("return_decided", MONDAY + timedelta(minutes=20), decision="accepted", by="jinan")
    s = run.state
    assert (s.level, s.units, s.grid, s.village, s.street) == (
        "grid", ("jinan-g2",), "jinan-g2", "jinan", "dongting")
    assert s.path[-1].units == ("jinan-g1",) and s.path[-1].response == "on_time"


def test_a_rejected_paused_return_moves_the_limits_on_by_the_paused_working_time(
        rules: Ruleset) -> None:
    run = at_grid(rules)  # default rule: resolve 4 working hours, Monday 14:30
    assert run.state.resolve_by == datetime(2026, 11, 23, 14, 30, tzinfo=CST)
    run("return_requested", MONDAY + timedelta(minutes=20), unit="jinan-g1",
        reason_code="wrong_place")
    assert run.state.deadlines == () and run.state.return_paused
    # paused 09:20 Monday .. 10:00 Tuesday: 2h40 + 4h + 1h = 7h40 of office time
    run("return_decided", datetime(2026, 11, 24, 10, 0, tzinfo=CST), decision="rejected",
        by="jinan")
    s = run.state
    assert s.resolve_by == datetime(2026, 11, 24, 15, 10, tzinfo=CST)
    assert s.return_paused == () and s.units == ("jinan-g1",)
    resolve = [d for d in s.deadlines if d.kind == "resolve" and not d.warning]
    assert [d.due for d in resolve] == [s.resolve_by] and resolve[0].token == s.version
    assert run.emitted("issue.assigned")[-1].data.reason == "return_rejected"


def test_a_rejected_return_with_the_clock_running_changes_no_limit(rules: Ruleset) -> None:
    run = at_departments(rules)
    before = run.state.deadlines
    run("return_requested", MONDAY + timedelta(hours=1), unit="traffic_police",
        reason_code="overlapping_duties")
    assert run.state.deadlines == before  # runs: nothing set aside
    run("return_decided", MONDAY + timedelta(hours=2), decision="rejected", by="dongting")
    assert run.state.deadlines == before and run.state.units[0] == "traffic_police"
    assert run.emitted("issue.assigned")[-1].data.reason == "whistle"  # nothing announced


@pytest.mark.parametrize(("facts", "reason"), [
    ([("return_requested", 60, {"unit": "urban_management", "reason_code": "not_ours"})],
     "not_lead"),
    ([("return_requested", 60, {"unit": "housing", "reason_code": "not_ours"})], "not_holder"),
    ([("return_requested", 60 * 24 * 3, {"unit": "traffic_police", "reason_code": "not_ours"})],
     "return_window_passed"),
    ([("return_decided", 60, {"decision": "accepted", "by": "dongting", "to": ["housing"]})],
     "no_return_pending"),
    ([("return_requested", 60, {"unit": "traffic_police", "reason_code": "not_ours"}),
      ("return_requested", 61, {"unit": "traffic_police", "reason_code": "other"})],
     "return_pending"),
    ([("return_requested", 60, {"unit": "traffic_police", "reason_code": "not_ours"}),
      ("return_decided", 70, {"decision": "accepted", "by": "city_operations",
                              "to": ["housing"]})], "not_adjudicator"),
    ([("return_requested", 60, {"unit": "traffic_police", "reason_code": "not_ours"}),
      ("return_decided", 70, {"decision": "accepted", "by": "dongting"})],
     "return_without_target"),
    ([("return_requested", 60, {"unit": "traffic_police", "reason_code": "not_ours"}),
      ("return_decided", 70, {"decision": "accepted", "by": "dongting",
                              "to": ["traffic_police"]})], "return_to_same_unit"),
    ([("return_requested", 60, {"unit": "traffic_police", "reason_code": "not_ours"}),
      ("return_decided", 70, {"decision": "accepted", "by": "dongting", "to": ["water"]})],
     "unknown_department"),
    ([("return_requested", 60, {"unit": "traffic_police", "reason_code": "not_ours"}),
      ("return_decided", 70, {"decision": "rejected", "by": "dongting"}),
      ("return_requested", 80, {"unit": "traffic_police", "reason_code": "not_ours"})],
     "already_returned"),
    ([("return_requested", 60, {"unit": "traffic_police", "reason_code": "not_ours"}),
      ("return_decided", 70, {"decision": "accepted", "by": "dongting", "to": ["housing"]}),
      ("return_requested", 80, {"unit": "housing", "reason_code": "not_ours"}),
      ("return_decided", 90, {"decision": "accepted", "by": "dongting", "to": ["traffic_police"]}),
      ("return_requested", 100, {"unit": "traffic_police", "reason_code": "not_ours"})],
     "too_many_returns"),
])
def test_a_return_that_does_not_fit_is_unfit_with_its_reason(
        rules: Ruleset, facts: list[tuple[str, int, dict[str, Any]]], reason: str) -> None:
    run = at_departments(rules)
    for kind, minutes, data in facts[:-1]:
        assert run(kind, MONDAY + timedelta(minutes=minutes), **data).result == "accepted"
    before = run.state
    kind, minutes, data = facts[-1]
    decision = run(kind, MONDAY + timedelta(minutes=minutes), **data)
    assert (decision.result, decision.reason) == ("unfit", reason)
    after = decision.state
    assert after is not None and after.seen[-1] not in before.seen  # recorded as seen
    assert (after.returns, after.units, after.lead) == (before.returns, before.units,
                                                        before.lead)


def test_a_rule_without_returns_or_extensions_takes_none(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text((RULES / "org.yaml").read_text("utf-8"), "utf-8")
    (tmp_path / "rules.yaml").write_text(
        "defaults: {calendar: office}\nrules:\n  - id: default\n    ladder:\n"
        "      - {level: grid, respond: 30m, resolve: 4h}\n", encoding="utf-8")
    result = load_ruleset(tmp_path)
    assert result.ruleset is not None, result.errors
    run = at_grid(result.ruleset)
    assert run("return_requested", MONDAY, unit="jinan-g1",
               reason_code="not_ours").reason == "returns_not_allowed"
    assert run("extension_requested", MONDAY, unit="jinan-g1", working_days=1, basis="b",
               reason="r").reason == "extensions_not_allowed"


# --- extensions ----------------------------------------------------------------------------


def test_an_approved_extension_moves_the_unit_s_limit_and_tells_upstream(
        rules: Ruleset) -> None:
    run = at_departments(rules)
    raised_at = run.state.raised_at
    t = datetime(2026, 11, 24, 9, 0, tzinfo=CST)
    run("extension_requested", t, unit="traffic_police", working_days=2, basis="方案",
        reason="需协调")
    pending = run.emitted("issue.extension_pending")[-1].data
    assert pending.until == datetime(2026, 11, 30, 9, 30, tzinfo=CST)  # Thu + 2 working days
    assert pending.approvers == ("dongting", "city_operations")
    run("extension_decided", t + timedelta(hours=1), decision="approved", approver="dongting",
        until=datetime(2026, 11, 27, 17, 0, tzinfo=CST).isoformat())  # less than asked
    s = run.state
    assert s.resolve_by == datetime(2026, 11, 27, 17, 0, tzinfo=CST)
    assert s.raised_at == raised_at  # the resident's clock never pauses
    resolve = [d for d in s.deadlines if d.kind == "resolve"]
    assert {d.due for d in resolve if not d.warning} == {s.resolve_by}
    assert all(d.token == s.version for d in resolve)
    extended = run.emitted("issue.extended")[-1].data
    assert (extended.previous_resolve_by, extended.resolve_by, extended.count) == (
        datetime(2026, 11, 26, 9, 30, tzinfo=CST), s.resolve_by, 1)
    assert (extended.basis, extended.reason) == ("方案", "需协调")


def test_an_extension_missed_all_the_same_is_marked_and_counted_once(rules: Ruleset) -> None:
    run = at_departments(rules)
    t = datetime(2026, 11, 24, 9, 0, tzinfo=CST)
    run("extension_requested", t, unit="traffic_police", working_days=1, basis="b", reason="r")
    run("extension_decided", t, decision="approved", approver="city_operations")
    run("resolved", datetime(2026, 12, 2, 9, 0, tzinfo=CST), unit="traffic_police")
    run("rated", datetime(2026, 12, 2, 10, 0, tzinfo=CST), satisfied=True)
    closed = run.emitted("issue.closed")[-1]
    assert isinstance(closed, IssueClosed)
    (entry,) = closed.data.extensions
    assert (entry.decision, entry.approver, entry.missed) == ("approved", "city_operations", True)
    overdue = [o.data.due for o in run.emitted("issue.overdue") if o.data.kind == "resolve"]
    assert overdue == [entry.until] and not closed.data.on_time  # the extended limit, once
    assert run.counts("whistle_extensions_total")[
        (("unit", "traffic_police"), ("stage", "missed"))] == 1


@pytest.mark.parametrize(("facts", "reason"), [
    ([("extension_requested", {"unit": "urban_management", "working_days": 1})], "not_lead"),
    ([("extension_requested", {"unit": "housing", "working_days": 1})], "not_holder"),
    ([("extension_requested", {"unit": "traffic_police", "working_days": 11})],
     "extension_over_total"),
    ([("extension_requested", {"unit": "traffic_police", "until": "2026-11-25T09:00:00+08:00"})],
     "extension_not_later"),
    ([("extension_decided", {"decision": "approved", "approver": "dongting"})],
     "no_extension_pending"),
    ([("extension_requested", {"unit": "traffic_police", "working_days": 5}),
      ("extension_decided", {"decision": "approved", "approver": "dongting"})],
     "approver_not_allowed"),  # 5 working days: past the street's tier
    ([("extension_requested", {"unit": "traffic_police", "working_days": 1}),
      ("extension_decided", {"decision": "approved", "approver": "traffic_police"})],
     "approver_not_allowed"),
    ([("extension_requested", {"unit": "traffic_police", "working_days": 1}),
      ("extension_requested", {"unit": "traffic_police", "working_days": 2})],
     "extension_pending"),
    ([("extension_requested", {"unit": "traffic_police", "working_days": 1}),
      ("extension_decided", {"decision": "approved", "approver": "dongting",
                             "until": "2026-12-25T09:00:00+08:00"})], "beyond_request"),
    ([("extension_requested", {"unit": "traffic_police", "working_days": 1}),
      ("extension_decided", {"decision": "approved", "approver": "dongting"}),
      ("extension_requested", {"unit": "traffic_police", "working_days": 1}),
      ("extension_decided", {"decision": "approved", "approver": "dongting"}),
      ("extension_requested", {"unit": "traffic_police", "working_days": 1})],
     "too_many_extensions"),
])
def test_an_extension_that_does_not_fit_is_unfit_with_its_reason(
        rules: Ruleset, facts: list[tuple[str, dict[str, Any]]], reason: str) -> None:
    run = at_departments(rules)
    t = datetime(2026, 11, 24, 9, 0, tzinfo=CST)
    texts = {"basis": "b", "reason": "r"}
    for i, (kind, data) in enumerate(facts[:-1]):
        extra = texts if kind == "extension_requested" else {}
        assert run(kind, t + timedelta(minutes=i), **data, **extra).result == "accepted"
    before = run.state
    kind, data = facts[-1]
    extra = texts if kind == "extension_requested" else {}
    decision = run(kind, t + timedelta(minutes=len(facts)), **data, **extra)
    assert (decision.result, decision.reason) == ("unfit", reason)
    assert decision.state is not None
    assert (decision.state.extensions, decision.state.resolve_by) == (
        before.extensions, before.resolve_by)


def test_an_extension_filed_at_or_after_the_limit_is_refused(rules: Ruleset) -> None:
    run = at_departments(rules)
    limit = run.state.resolve_by
    decision = run("extension_requested", limit, unit="traffic_police", working_days=1,
                   basis="b", reason="r")
    assert (decision.result, decision.reason) == ("unfit", "extension_after_deadline")


def test_extension_data_takes_exactly_one_length() -> None:
    for data in ({}, {"until": "2026-11-30T09:00:00+08:00", "working_days": 2}):
        with pytest.raises(ValueError, match="exactly one of until and working_days"):
            ev("extension_requested", MONDAY, 1, unit="u", basis="b", reason="r", **data)


# --- invariants and counts -----------------------------------------------------------------

UNITS = ("traffic_police", "urban_management", "housing", "dongting", "city_operations")
FACT = st.one_of(
    st.builds(lambda u, r, s: ("return_requested", {"unit": u, "reason_code": r,
                                                    **({"suggested": s} if s else {})}),
              st.sampled_from(UNITS), st.sampled_from(["not_ours", "wrong_place", "other"]),
              st.sampled_from([None, "housing", "urban_management", "nowhere"])),
    st.builds(lambda d, b, to: ("return_decided", {"decision": d, "by": b, "to": to}),
              st.sampled_from(["accepted", "rejected"]), st.sampled_from(UNITS),
              st.sampled_from([[], ["housing"], ["traffic_police"], ["urban_management"]])),
    st.builds(lambda u, n: ("extension_requested", {"unit": u, "working_days": n, "basis": "b",
                                                    "reason": "r"}),
              st.sampled_from(UNITS), st.integers(1, 12)),
    st.builds(lambda d, a: ("extension_decided", {"decision": d, "approver": a}),
              st.sampled_from(["approved", "rejected"]), st.sampled_from(UNITS)),
    st.builds(lambda u: ("resolved", {"unit": u}), st.sampled_from(UNITS)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(facts=st.lists(st.tuples(FACT, st.integers(1, 600)), max_size=14))
def test_any_sequence_keeps_the_invariants_and_counts_equal_the_closure(
        rules: Ruleset, facts: list[tuple[tuple[str, dict[str, Any]], int]]) -> None:
    run = at_departments(rules)
    t = MONDAY + timedelta(hours=1)
    returns = rules.rule("parking").returns  # type: ignore[union-attr]
    for (kind, data), minutes in facts:
        t += timedelta(minutes=minutes)
        run(kind, t, **data)
        s = run.state
        assert len(s.returns) <= returns.max  # type: ignore[union-attr]
        assert sum(r.decision is None for r in s.returns) <= 1
        approved = Counter((e.entered_at, e.level) for e in s.extensions
                           if e.decision == "approved")
        assert all(n <= 2 for n in approved.values())
        assert all(d.token <= s.version for d in s.deadlines)
        assert s.raised_at == MONDAY.astimezone(UTC)
        if s.status == "closed":
            break
    run("rated", t + timedelta(minutes=1), satisfied=True)
    run.decisions += run.replayer.advance(t + timedelta(days=30))
    s = run.state
    counted = run.counts("whistle_returns_total")
    for stage in ("requested", "accepted", "rejected"):
        want = Counter(r.unit for r in s.returns if stage == "requested" or r.decision == stage)
        got = Counter({dict(k)["unit"]: n for k, n in counted.items()
                       if dict(k)["stage"] == stage})
        assert got == want, stage
    counted = run.counts("whistle_extensions_total")
    for stage in ("requested", "approved", "rejected", "missed"):
        want = Counter(e.unit for e in s.extensions if stage == "requested" or (
            e.decision == stage) or (stage == "missed" and e.missed))
        got = Counter({dict(k)["unit"]: n for k, n in counted.items()
                       if dict(k)["stage"] == stage})
        assert got == want, stage
    closed = [e for e in run.emitted("issue.closed")]
    if closed:
        assert [r.unit for r in closed[-1].data.returns] == [r.unit for r in s.returns]
        assert [e.missed for e in closed[-1].data.extensions] == [e.missed for e in s.extensions]


def test_explain_shows_each_rung_s_return_deadline_and_who_extends_it(rules: Ruleset) -> None:
    from engine.domain.events import IssueRaised
    from engine.explain import explain, render

    raised = ev("raised", MONDAY, 1, grid="jinan-g1", category="greening", title="t")
    assert isinstance(raised, IssueRaised)
    report = explain(raised, rules)
    grid, village, street, department = report["ladder"]
    assert (grid["return_by"], grid["adjudicator"]) == (
        datetime(2026, 11, 24, 9, 0, tzinfo=CST).astimezone(UTC).isoformat(), "jinan")
    assert [x["approver"] for x in grid["extend"]] == ["jinan", "city_operations"]
    assert grid["extend"][0]["until"] == datetime(
        2026, 11, 26, 14, 30, tzinfo=CST).astimezone(UTC).isoformat()  # 14:30 + 3 working days
    assert (village["adjudicator"], street["adjudicator"], department["adjudicator"]) == (
        "dongting", "city_operations", "dongting")
    assert report["returns"] == {"adjudicator": "level_above", "dispatcher": "city_operations",
                                 "window": "1 working day", "max": 1, "clock": "pauses"}
    text = render(report)
    assert "return by  2026-11-24 Tue 09:00  (退单, decided by jinan)" in text
    assert "extend to  2026-11-26 Thu 14:30  (延期, approved by jinan)" in text


def test_the_report_counts_returns_and_extensions_per_unit_as_the_closures_say(
        rules: Ruleset) -> None:
    from engine.report.figures import dedupe
    from engine.report.workflow import assess_moves

    run = at_departments(rules)
    run("return_requested", MONDAY + timedelta(hours=1), unit="traffic_police",
        reason_code="not_ours", suggested="housing")
    run("return_decided", MONDAY + timedelta(hours=2), decision="accepted", by="dongting")
    t = datetime(2026, 11, 24, 9, 0, tzinfo=CST)
    run("extension_requested", t, unit="housing", working_days=1, basis="b", reason="r")
    run("extension_decided", t, decision="approved", approver="dongting")
    run("resolved", datetime(2026, 12, 2, 9, 0, tzinfo=CST), unit="housing")
    run("rated", datetime(2026, 12, 2, 10, 0, tzinfo=CST), satisfied=True)
    closed = run.emitted("issue.closed")
    period = (datetime(2026, 12, 1, tzinfo=CST), datetime(2027, 1, 1, tzinfo=CST))
    unique, skipped = dedupe([*closed, *closed])  # a duplicate is skipped
    assert skipped == 1
    rows = assess_moves(unique, [], *period).departments
    assert [(u.unit, u.returns_requested, u.returns_accepted, u.extensions_requested,
             u.extensions_approved, u.extensions_missed) for u in rows] == [
        ("housing", 0, 0, 1, 1, 1), ("traffic_police", 1, 1, 0, 0, 0)]
    later = assess_moves(unique, [], period[1], period[1] + timedelta(days=1))
    assert later.departments == () and later.streets == ()
