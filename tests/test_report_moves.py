"""The workflow moves in ``whistle report``: returns (退单), extensions (延期), urging (催办) and
supervision (督办), parking (挂账), per unit and period (engine/report/workflow.py).

Known answers from hand-made closures and lifecycle events (the invalid-return rate, missed
after an extension, attribution, periods, duplicates); a scripted scenario run through the
engine's replayer on rules with every move, whose report must equal what its events and its
metric counts say; and a golden table and CSV of that scenario (``UPDATE_GOLDENS=1`` rewrites
them)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.domain.decision import Decision
from engine.domain.events import INBOUND_TYPES, IssueClosed, Outbound
from engine.domain.replay import Replayer
from engine.report.csvout import render_csv
from engine.report.figures import TOTAL, as_event, assess, dedupe
from engine.report.names import Names, load_names
from engine.report.rates import assess_rates
from engine.report.text import render_table
from engine.report.workflow import Moves, UnitMoves, assess_moves, duration
from engine.rules.loader import load_ruleset
from tests.test_report import CST, END, INSIDE, START, closed, write_jsonl
from tests.test_report_rates import lifecycle, read

GOLDEN = Path(__file__).parent / "testdata" / "report"
RULES = GOLDEN / "rules-moves"
TERRITORY = {"dongting-c01-g1": "dongting", "dongting-c01": "dongting",
             "anzhen-c01": "anzhen"}
DEPARTMENTS = ("traffic_police", "housing", "urban_management")
H = timedelta(hours=1)
D = timedelta(days=1)


# --- hand-made closures: known answers ------------------------------------------------------


def ret(unit: str, level: str, decision: str | None) -> dict[str, Any]:
    at = INSIDE - 2 * D
    return {"unit": unit, "level": level, "reason_code": "not_ours",
            "requested_at": at.isoformat(), "adjudicator": "dongting", "decision": decision,
            "by": None if decision is None else "dongting",
            "decided_at": None if decision is None else (at + H).isoformat(), "to": []}


def ext(unit: str, decision: str | None, missed: bool = False) -> dict[str, Any]:
    at = INSIDE - 2 * D
    return {"unit": unit, "level": "department", "requested_at": at.isoformat(),
            "previous_resolve_by": (at + D).isoformat(),
            "requested_until": (at + 2 * D).isoformat(), "decision": decision,
            "approver": None if decision is None else "dongting",
            "decided_at": None if decision is None else (at + H).isoformat(),
            "until": (at + 2 * D).isoformat() if decision == "approved" else None,
            "missed": missed}


def parked(unit: str, hours: float, since: datetime = INSIDE - 5 * D) -> dict[str, Any]:
    return {"unit": unit, "since": since.isoformat(),
            "until": (since + timedelta(hours=hours)).isoformat(), "approver": "housing",
            "paused_seconds": hours * 1800}


def moved(event: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {**event, "data": {**event["data"], **data}}


def urged(issue: str, step: int, unit: str, level: str, at: datetime = INSIDE,
          supervise: bool = False, n: int | None = None) -> dict[str, Any]:
    kind = "issue.supervised" if supervise else "issue.urged"
    return lifecycle(issue, kind, {"step": step, "kind": "resolve", "due": at.isoformat(),
                                   "level": level, "units": [unit], "copy_to": [],
                                   "rule": "r"}, at, n or 10 + step)


def review(issue: str, unit: str, level: str, at: datetime = INSIDE, n: int = 30
           ) -> dict[str, Any]:
    return lifecycle(issue, "issue.review_due", {
        "unit": unit, "level": level, "since": (at - 10 * D).isoformat(),
        "review_at": at.isoformat(), "approver": "housing", "rule": "r"}, at, n)


C1 = moved(closed("XS-M1", street="dongting"),
           returns=[ret("traffic_police", "department", "rejected"),
                    ret("housing", "department", "accepted"),
                    ret("dongting-c01-g1", "grid", "accepted")],
           extensions=[ext("housing", "approved", missed=True), ext("housing", "approved"),
                       ext("urban_management", "rejected")],
           parked=[parked("dongting", 48), parked("housing", 24), parked("housing", 3)],
           urgings=1)
C2 = moved(closed("XS-M2", street="anzhen"),
           returns=[ret("traffic_police", "department", "rejected"),
                    ret("traffic_police", "department", None)],
           extensions=[ext("housing", "approved", missed=True)],
           parked=[parked("anzhen-c01", 5)])
C3 = moved(closed("XS-M3", END + D), returns=[ret("housing", "department", "rejected")],
           extensions=[ext("housing", "approved", missed=True)],
           parked=[parked("housing", 100)])  # closed after the period: not counted
LIFECYCLE = [
    urged("XS-OPEN", 1, "traffic_police", "department"),
    urged("XS-OPEN", 2, "traffic_police", "department"),
    urged("XS-OPEN", 3, "traffic_police", "department", supervise=True),
    urged("XS-OPEN", 3, "traffic_police", "department", supervise=True),  # redelivered
    urged("XS-M1", 1, "dongting-c01-g1", "grid"),  # a grid: counts for the closure's street
    urged("XS-OPEN", 1, "housing", "department", at=END, n=20),  # after the period
    review("XS-M1", "housing", "department"),
    review("XS-OPEN2", "dongting-c01", "village"),  # open: the territory says its street
]


def hand_moves(closures: list[dict[str, Any]] | None = None,
               events: list[dict[str, Any]] | None = None,
               start: datetime = START, end: datetime = END) -> Moves:
    unique, _ = dedupe([C1, C2, C3, C1] if closures is None else closures)
    lc = [read(e) for e in (LIFECYCLE if events is None else events)]
    return assess_moves(unique, lc, start, end, departments=DEPARTMENTS,
                        streets=("dongting", "anzhen"), territory=TERRITORY)


def row(m: Moves, section: str, unit: str) -> UnitMoves:
    rows = (*m.departments, m.department_total) if section == "department" else (
        *m.streets, m.street_total)
    return next(x for x in rows if x.unit == unit)


def test_the_invalid_return_rate_is_rejected_over_requested() -> None:
    m = hand_moves()
    tp = row(m, "department", "traffic_police")
    # C1 rejected; C2 rejected and one still pending: 2 of 3 requested were invalid
    assert (tp.returns_requested, tp.returns_accepted, tp.returns_rejected,
            tp.returns_pending) == (3, 0, 2, 1)
    assert (tp.invalid_return_rate.numerator, tp.invalid_return_rate.denominator) == (2, 3)
    assert tp.invalid_return_rate.percent() == "66.7%"
    housing = row(m, "department", "housing")  # C3's rejected return closed after the period
    assert (housing.returns_requested, housing.returns_rejected) == (1, 0)
    assert housing.invalid_return_rate.percent() == "0.0%"
    # the grid's return counts for its street; the total is every department's
    assert row(m, "street", "dongting").returns_requested == 1
    assert row(m, "street", "anzhen").invalid_return_rate.denominator == 0
    total = row(m, "department", TOTAL)
    assert (total.returns_requested, total.returns_rejected, total.returns_pending) == (4, 2, 1)
    assert str(total.invalid_return_rate) == "50.0% (2/4)"


def test_overdue_even_after_extension_is_missed_over_approved() -> None:
    m = hand_moves()
    housing = row(m, "department", "housing")
    # C1: one approved and missed, one approved and met; C2: approved and missed
    assert (housing.extensions_requested, housing.extensions_approved,
            housing.extensions_rejected, housing.extensions_missed) == (3, 3, 0, 2)
    assert str(housing.overdue_after_extension_rate) == "66.7% (2/3)"
    um = row(m, "department", "urban_management")  # refused: in no rate
    assert (um.extensions_requested, um.extensions_rejected, um.extensions_missed) == (1, 1, 0)
    assert um.overdue_after_extension_rate.percent() == "—"
    total = row(m, "department", TOTAL)
    assert (total.extensions_requested, total.extensions_approved, total.extensions_missed) \
        == (4, 3, 2)


def test_a_missed_flag_on_an_extension_not_approved_does_not_count() -> None:
    bad = moved(closed("XS-X"), extensions=[ext("housing", "rejected", missed=True),
                                            ext("housing", None, missed=True)])
    h = row(hand_moves([bad], []), "department", "housing")
    assert (h.extensions_requested, h.extensions_pending, h.extensions_missed) == (2, 1, 0)


def test_urgings_by_step_and_supervision_cases_count_in_the_period_they_were_sent() -> None:
    m = hand_moves()
    assert m.steps == 3 and m.lifecycle_events == 7 and m.duplicates == 1
    tp = row(m, "department", "traffic_police")
    assert tp.urgings == (1, 1, 1) and tp.urgings_sent == 3 and tp.supervision_cases == 1
    assert row(m, "department", "housing").urgings == (0, 0, 0)  # its urging came at END
    assert row(m, "street", "dongting").urgings == (1, 0, 0)
    assert row(m, "street", TOTAL).urgings == (1, 0, 0)
    assert row(m, "department", TOTAL).supervision_cases == 1
    later = hand_moves(start=END, end=END + D)
    assert row(later, "department", "housing").urgings == (1,)
    assert row(later, "department", "traffic_police").urgings_sent == 0


def test_parking_counts_issues_periods_and_wall_time_per_unit() -> None:
    m = hand_moves()
    housing = row(m, "department", "housing")
    assert (housing.parked_issues, housing.parked_periods) == (1, 2)  # one issue, twice
    assert (housing.parked_seconds, housing.longest_parked_seconds) == (27 * 3600, 24 * 3600)
    assert housing.reviews_due == 1
    dongting = row(m, "street", "dongting")
    assert (dongting.parked_issues, dongting.parked_seconds, dongting.reviews_due) == (
        1, 48 * 3600, 1)  # the review of an open village's issue counts for its street
    anzhen = row(m, "street", "anzhen")  # a village's period counts for the issue's street
    assert (anzhen.parked_issues, anzhen.parked_seconds) == (1, 5 * 3600)
    total = row(m, "street", TOTAL)
    assert (total.parked_issues, total.parked_periods, total.parked_seconds,
            total.longest_parked_seconds) == (2, 2, 53 * 3600, 48 * 3600)
    assert duration(total.parked_seconds) == "2d 05:00" and duration(0) == "—"


def test_rows_are_the_registry_units_first_then_the_others() -> None:
    m = hand_moves()
    assert [u.unit for u in m.departments] == list(DEPARTMENTS)
    assert [u.unit for u in m.streets] == ["dongting", "anzhen"]
    empty = assess_moves([], [], START, END, departments=["water"])
    assert empty.departments == (UnitMoves("water"),) and empty.steps == 0
    with pytest.raises(ValueError, match="time zone"):
        assess_moves([], [], START.replace(tzinfo=None), END)


def test_the_table_and_csv_show_the_hand_made_figures() -> None:
    m = hand_moves()
    a = assess([C1, C2, C3], START, END, departments=DEPARTMENTS, streets=("dongting", "anzhen"))
    names = Names(departments={"housing": "区住建局"})
    text = render_table(a, names, moves=m)
    assert "Returns (退单)" in text and "66.7% (2/3)" in text and "50.0% (2/4)" in text
    assert "区住建局" in text and "1d 03:00" in text and "supervision cases" in text
    rows = {(r["section"], r["id"]): r for r in csv.DictReader(io.StringIO(
        render_csv(a, names, moves=m)))}
    tp = rows[("department", "traffic_police")]
    assert (tp["invalid_return_rate"], tp["invalid_return_rate_numerator"],
            tp["invalid_return_rate_denominator"]) == ("66.7%", "2", "3")
    assert (tp["urgings"], tp["urgings_step_1"], tp["urgings_step_3"],
            tp["supervision_cases"]) == ("3", "1", "1", "1")
    h = rows[("department", "housing")]
    assert (h["overdue_after_extension_rate_numerator"],
            h["overdue_after_extension_rate_denominator"]) == ("2", "3")
    assert (h["parked_seconds"], h["longest_parked_seconds"]) == ("97200", "86400")
    assert rows[("department", "urban_management")]["overdue_after_extension_rate"] == ""
    assert rows[("street", "anzhen")]["parked_issues"] == "1"


# --- a scripted scenario through the engine ------------------------------------------------

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=CST)  # an ordinary working Monday


class Scenario:
    def __init__(self) -> None:
        result = load_ruleset(RULES)
        assert result.ruleset is not None, result.errors
        self.replayer = Replayer(result.ruleset)
        self.decisions: list[Decision] = []
        self.n = 0

    def __call__(self, kind: str, issue: str, at: datetime, **data: Any) -> None:
        self.n += 1
        event = INBOUND_TYPES[f"issue.{kind}"].model_validate(
            {"id": f"m-{self.n}", "source": "test", "subject": issue, "time": at.isoformat(),
             "type": f"issue.{kind}", "data": data}, strict=False)
        for d in self.replayer.feed(event):
            assert d.result == "accepted", (kind, issue, d)
            self.decisions.append(d)

    def to_departments(self, issue: str, at: datetime) -> None:
        """Illegal parking: the street whistles to the traffic police (lead; 3 working days)."""
        self("raised", issue, at, grid="jinan-g1", category="illegal_parking", title="占道停车")
        self("acknowledged", issue, at + 10 * timedelta(minutes=1), unit="dongting")
        self("whistled", issue, at + 30 * timedelta(minutes=1), unit="dongting")

    def at_grid(self, issue: str, at: datetime) -> None:
        self("raised", issue, at, grid="jinan-g1", category="greening", title="绿化带缺株")
        self("acknowledged", issue, at + 10 * timedelta(minutes=1), unit="jinan-g1")


@cache
def scenario() -> tuple[tuple[Outbound, ...], Counter[tuple[str, tuple[tuple[str, str], ...]]]]:
    """Every event the engine emitted, and its metric counts, for five issues."""
    s = Scenario()
    # W-1: a return accepted (traffic police -> housing), an extension approved and missed all
    # the same: urged up to a supervision case, resolved late
    s.to_departments("W-1", MONDAY)
    s("return_requested", "W-1", MONDAY + H, unit="traffic_police", reason_code="not_ours",
      suggested="housing")
    s("return_decided", "W-1", MONDAY + 2 * H, decision="accepted", by="dongting")
    s("extension_requested", "W-1", MONDAY + D, unit="housing", working_days=1, basis="b",
      reason="r")
    s("extension_decided", "W-1", MONDAY + D, decision="approved", approver="dongting")
    s("resolved", "W-1", MONDAY + 9 * D, unit="housing")
    s("rated", "W-1", MONDAY + 9 * D + H, satisfied=True)
    # W-2: a return rejected; an extension refused; resolved in time
    s.to_departments("W-2", MONDAY)
    s("return_requested", "W-2", MONDAY + H, unit="traffic_police", reason_code="wrong_place")
    s("return_decided", "W-2", MONDAY + 2 * H, decision="rejected", by="dongting")
    s("extension_requested", "W-2", MONDAY + D, unit="traffic_police", working_days=2,
      basis="b", reason="r")
    s("extension_decided", "W-2", MONDAY + D + H, decision="rejected", approver="dongting")
    s("resolved", "W-2", MONDAY + 2 * D, unit="traffic_police")
    s("rated", "W-2", MONDAY + 2 * D + H, satisfied=True)
    # W-3: a grid parks a project (the village approves), its review comes, it resumes
    s.at_grid("W-3", MONDAY)
    review_at = MONDAY + 10 * D
    s("park_requested", "W-3", MONDAY + H, unit="jinan-g1", reason="等待预算", plan="明年立项",
      review_at=review_at.isoformat())
    s("park_decided", "W-3", MONDAY + 2 * H, decision="approved", approver="jinan")
    s("unparked", "W-3", review_at + D, unit="jinan-g1")
    s("resolved", "W-3", review_at + D + H, unit="jinan-g1")
    s("rated", "W-3", review_at + D + 2 * H, satisfied=True)
    # W-4: parked with housing's approval, withdrawn while parked (the period ends there)
    s.at_grid("W-4", MONDAY)
    s("park_requested", "W-4", MONDAY + H, unit="jinan-g1", reason="等待预算",
      review_at=(MONDAY + 40 * D).isoformat())
    s("park_decided", "W-4", MONDAY + 2 * H, decision="approved", approver="housing")
    s("withdrawn", "W-4", MONDAY + 3 * D)
    # W-5: the traffic police never resolve: urged up to a supervision case, still open
    s.to_departments("W-5", MONDAY + 2 * D)
    s.decisions += s.replayer.advance(datetime(2027, 1, 1, tzinfo=CST))
    out = tuple(e for d in s.decisions for e in d.emit)
    counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for d in s.decisions:
        for c in d.counts:
            counts[(c.family, c.labels)] += int(c.value)
    return out, counts


def scenario_events() -> tuple[list[IssueClosed], list[Outbound]]:
    out, _ = scenario()
    closures = [e for e in out if isinstance(e, IssueClosed)]
    return closures, list(out)


def scenario_moves(start: datetime, end: datetime) -> Moves:
    closures, events = scenario_events()
    names = load_names(RULES)
    return assess_moves(dedupe(closures)[0], events, start, end,
                        departments=list(names.departments), streets=list(names.streets),
                        territory=names.territory)


WHOLE = (datetime(2026, 11, 1, tzinfo=CST), datetime(2027, 1, 1, tzinfo=CST))


def test_the_scenario_has_every_move() -> None:
    out, _ = scenario()
    types = Counter(e.type for e in out)
    assert types["issue.closed"] == 4 and types["issue.supervised"] == 2
    assert types["issue.review_due"] == 1 and types["issue.resumed"] == 1


def test_the_report_equals_the_engine_metric_counts() -> None:
    """Over the whole scenario every count is what the core counted for its metrics."""
    _, counts = scenario()
    m = scenario_moves(*WHOLE)

    def metric(family: str, **labels: str) -> int:
        return sum(v for (f, ls), v in counts.items()
                   if f == family and labels.items() <= dict(ls).items())

    for u in m.departments:
        assert u.returns_requested == metric("whistle_returns_total", unit=u.unit,
                                             stage="requested"), u.unit
        assert u.returns_rejected == metric("whistle_returns_total", unit=u.unit,
                                            stage="rejected")
        assert u.extensions_approved == metric("whistle_extensions_total", unit=u.unit,
                                               stage="approved")
        assert u.extensions_missed == metric("whistle_extensions_total", unit=u.unit,
                                             stage="missed")
        for step in range(1, m.steps + 1):
            assert u.urged(step) == metric("whistle_urgings_total", unit=u.unit,
                                           step=str(step)), (u.unit, step)
        assert u.supervision_cases == metric("whistle_supervisions_total", unit=u.unit)
    tp, housing = row(m, "department", "traffic_police"), row(m, "department", "housing")
    assert (tp.returns_requested, tp.returns_accepted, tp.returns_rejected) == (2, 1, 1)
    assert str(tp.invalid_return_rate) == "50.0% (1/2)"
    assert (tp.extensions_rejected, housing.extensions_approved, housing.extensions_missed) \
        == (1, 1, 1)
    assert str(housing.overdue_after_extension_rate) == "100.0% (1/1)"
    # W-1's housing and W-5's traffic police reach the supervise step; W-5 is still open
    assert housing.supervision_cases == tp.supervision_cases == 1
    dongting = row(m, "street", "dongting")  # both parks were a grid's
    assert (dongting.parked_issues, dongting.parked_periods, dongting.reviews_due) == (2, 2, 1)
    assert metric("whistle_parks_total", decision="approved") == 2


def test_the_closures_urgings_are_the_urging_events_of_closed_issues() -> None:
    closures, events = scenario_events()
    sent = Counter(e.subject for e in events if e.type in ("issue.urged", "issue.supervised"))
    assert {c.subject: c.data.urgings for c in closures} == {
        c.subject: sent[c.subject] for c in closures}
    supervised = {e.subject for e in events if e.type == "issue.supervised"}
    assert {c.subject for c in closures if c.data.supervised} == supervised - {"W-5"}


def test_every_move_counts_in_exactly_one_period() -> None:
    whole = scenario_moves(*WHOLE)
    edges = [WHOLE[0], MONDAY + 4 * D, MONDAY + 8 * D + H, MONDAY + 11 * D, WHOLE[1]]
    parts = [scenario_moves(a, b) for a, b in itertools.pairwise(edges)]
    for section in ("department", "street"):
        total = row(whole, section, TOTAL)
        summed = UnitMoves(TOTAL)
        for p in parts:
            summed = summed.plus(row(p, section, TOTAL), TOTAL)
        longest = max(row(p, section, TOTAL).longest_parked_seconds for p in parts)
        assert summed == UnitMoves(**{**total.__dict__, "longest_parked_seconds": longest})
    assert sum(row(p, "department", TOTAL).urgings_sent > 0 for p in parts) >= 2


def scenario_report(fmt: str) -> str:
    closures, events = scenario_events()
    names = load_names(RULES)
    a = assess(closures, *WHOLE, departments=list(names.departments),
               streets=list(names.streets))
    kw: dict[str, Any] = {"departments": list(names.departments),
                          "streets": list(names.streets), "territory": names.territory}
    r = assess_rates(dedupe(closures)[0], events, *WHOLE, **kw)
    m = assess_moves(dedupe(closures)[0], events, *WHOLE, **kw)
    return render_table(a, names, r, m) if fmt == "txt" else render_csv(a, names, r, m)


@pytest.mark.parametrize("fmt", ["txt", "csv"])
def test_golden_report_with_the_workflow_moves(fmt: str) -> None:
    path = GOLDEN / f"workflow_moves.{fmt}"
    got = scenario_report(fmt)
    if os.environ.get("UPDATE_GOLDENS"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"run UPDATE_GOLDENS=1 and review {path}"


def test_cli_reports_the_moves_from_the_exports(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    closures, events = scenario_events()
    c = write_jsonl(tmp_path / "closed.jsonl",
                    [json.loads(e.model_dump_json()) for e in closures])
    lc = write_jsonl(tmp_path / "lifecycle.jsonl",
                     [json.loads(e.model_dump_json()) for e in events])
    base = ["report", "--from", "2026-11-01", "--to", "2027-01-01", "--events", str(c),
            "--rules", str(RULES)]
    assert main([*base, "--lifecycle", str(lc)]) == 0
    assert capsys.readouterr().out == scenario_report("txt")
    assert main([*base, "--lifecycle", str(lc), "--format", "csv"]) == 0
    assert capsys.readouterr().out == scenario_report("csv")
    assert main(base) == 0  # closures only: no urgings, the closure figures stand
    out = capsys.readouterr().out
    assert "0 urging and review event(s) read" in out and "50.0% (1/2)" in out
    assert as_event(json.loads(c.read_text().splitlines()[0])).type == "issue.closed"
