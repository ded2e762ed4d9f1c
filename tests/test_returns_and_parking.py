"""Where returns (退单) and extensions (延期) meet parking (挂账) and the views of what is late.

A parked issue's limits are paused, so a return or an extension (its request or its decision)
does not fit until it is unparked (``parked``), and a park request does not fit while a return
waits for its adjudicator (``return_pending``). Limits a paused return set aside are not
missed: neither the ``whistle_open_overdue_limits`` gauge nor the API's ``overdue`` counts them.

Rules: the golden replays' workflow rules (tests/testdata/replays/rules-workflow; the default
rule's grid returns pause its clock) with parking approved by the level above or housing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.agents.metrics import open_overdue
from engine.domain.ruleset import Ruleset
from engine.rules.loader import load_ruleset
from engine.web.issues import missed
from tests.test_workflow import CST, MONDAY, RULES, Run, at_departments, at_grid
from tests.workflow_rules import PARKING

M = timedelta(minutes=1)


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    result = load_ruleset(RULES)
    assert result.ruleset is not None, result.errors
    base = result.ruleset
    return base.model_copy(update={"rules": tuple(
        r.model_copy(update={"parking": PARKING}) for r in base.rules)})


def parked_at_departments(rules: Ruleset) -> Run:
    run = at_departments(rules)  # the traffic police lead at the department rung since 09:30
    run("park_requested", MONDAY + 40 * M, unit="traffic_police", reason="等待道路改造",
        review_at=(MONDAY + timedelta(days=20)).isoformat())
    assert run("park_decided", MONDAY + 50 * M, decision="approved",
               approver="housing").result == "accepted"
    assert run.state.parked is not None
    return run


def test_returns_and_extensions_do_not_fit_a_parked_issue(rules: Ruleset) -> None:
    run = parked_at_departments(rules)
    before = run.state
    for kind, data in (
        ("return_requested", {"unit": "traffic_police", "reason_code": "not_ours"}),
        ("extension_requested", {"unit": "traffic_police", "working_days": 2, "basis": "方案",
                                 "reason": "施工"}),
        ("return_decided", {"decision": "accepted", "by": "dongting", "to": ["housing"]}),
        ("extension_decided", {"decision": "approved", "approver": "dongting"}),
    ):
        d = run(kind, MONDAY + timedelta(hours=2), **data)
        assert (d.result, d.reason) == ("unfit", "parked"), kind
    s = run.state
    assert (s.deadlines, s.parked, s.returns, s.extensions, s.resolve_by) == (
        before.deadlines, before.parked, (), (), before.resolve_by)
    # unparked, the lead may ask again: its limit moved by the paused time first
    run("unparked", MONDAY + timedelta(hours=3), unit="traffic_police")
    d = run("extension_requested", MONDAY + timedelta(hours=3, minutes=5), unit="traffic_police",
            working_days=2, basis="方案", reason="施工")
    assert d.result == "accepted" and run.emitted("issue.extension_pending")


def test_a_park_request_does_not_fit_while_a_return_is_pending(rules: Ruleset) -> None:
    run = at_grid(rules)
    run("return_requested", MONDAY + 20 * M, unit="jinan-g1", reason_code="wrong_place")
    d = run("park_requested", MONDAY + 30 * M, unit="jinan-g1", reason="等待预算",
            review_at=(MONDAY + timedelta(days=20)).isoformat())
    assert (d.result, d.reason) == ("unfit", "return_pending")
    assert run.state.park_request is None
    run("return_decided", MONDAY + 40 * M, decision="rejected", by="jinan")
    d = run("park_requested", MONDAY + 50 * M, unit="jinan-g1", reason="等待预算",
            review_at=(MONDAY + timedelta(days=20)).isoformat())
    assert d.result == "accepted" and run.state.park_request is not None


def test_limits_a_paused_return_set_aside_are_neither_open_overdue_nor_missed(
        rules: Ruleset) -> None:
    run = at_grid(rules)  # resolve 4 working hours: Monday 14:30
    run("return_requested", MONDAY + 20 * M, unit="jinan-g1", reason_code="wrong_place")
    s = run.state
    assert s.deadlines == () and s.return_paused
    later = datetime(2026, 11, 24, 10, 0, tzinfo=CST)  # past the 14:30 limit, still paused
    assert open_overdue(s) == ()
    assert missed(s, later) == []
    run("return_decided", later, decision="rejected", by="jinan")
    s = run.state
    moved = datetime(2026, 11, 24, 15, 10, tzinfo=CST)  # on by the paused 7h40 of office time
    assert s.resolve_by == moved
    assert missed(s, moved - M) == []
    assert [(m.kind, m.unit, m.due) for m in missed(s, moved + M)] == [
        ("resolve", "jinan-g1", moved)]
