"""The three rates (三率) by unit, open overdue limits counted: known answers from hand-made
events, the invariants over simulated Xishan traffic cut off half way (every limit counts in
exactly one period; the open overdue ones equal the issues the engine has not closed), and a
golden table and CSV of that traffic (``UPDATE_GOLDENS=1`` rewrites them)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine.agents.settings import SAMPLE_RULES
from engine.cli import main
from engine.domain.events import Outbound
from engine.domain.replay import Replayer
from engine.report.csvout import render_csv
from engine.report.figures import TOTAL, Rate, as_event, assess, dedupe
from engine.report.names import Names, load_names
from engine.report.rates import COUNT_FIELDS, ThreeRates, UnitRates, assess_rates
from engine.report.readers import read_jsonl
from engine.report.text import render_table
from engine.report.workflow import assess_moves
from engine.rules.loader import load_ruleset
from engine.simulation import history
from tests.test_report import CST, END, INSIDE, START, closed, write_jsonl

GOLDEN = Path(__file__).parent / "testdata" / "report"
TERRITORY = {"dongting-c01-g1": "dongting", "dongting-c01": "dongting"}


def lifecycle(issue: str, kind: str, data: dict[str, Any], at: datetime, n: int = 1
              ) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"{issue}:{n}:0", "source": "whistle/engine",
            "type": kind, "subject": issue, "time": at.isoformat(),
            "datacontenttype": "application/json", "data": {"sequence": n, **data}}


def overdue(issue: str, kind: str, unit: str, level: str, due: datetime = INSIDE, n: int = 2
            ) -> dict[str, Any]:
    return lifecycle(issue, "issue.overdue", {"kind": kind, "unit": unit, "due": due.isoformat(),
                                              "level": level, "rule": "r"}, due, n)


def reopened(issue: str, unit: str, level: str, at: datetime = INSIDE, n: int = 3
             ) -> dict[str, Any]:
    return lifecycle(issue, "issue.reopened", {"count": 1, "level": level, "units": [unit],
                                               "rule": "r"}, at, n)


def with_response(event: dict[str, Any], response: str) -> dict[str, Any]:
    data = event["data"]
    return {**event, "data": {**data, "path": [{**data["path"][0], "response": response}]}}


def rates(closures: list[dict[str, Any]], events: list[dict[str, Any]],
          start: datetime = START, end: datetime = END) -> ThreeRates:
    unique, _ = dedupe(closures)
    lc = [read(e) for e in events]
    return assess_rates(unique, lc, start, end, territory=TERRITORY)


def read(e: dict[str, Any]) -> Outbound:
    from engine.domain.events import OUTBOUND_TYPES

    return OUTBOUND_TYPES[e["type"]].model_validate_json(json.dumps(e))


def row(r: ThreeRates, section: str, unit: str) -> UnitRates:
    rows = r.departments if section == "department" else r.streets
    return next(x for x in rows if x.unit == unit)


def test_an_open_issue_overdue_counts_as_missed_now_for_the_holders_street() -> None:
    r = rates([], [overdue("XS-1", "respond", "dongting-c01-g1", "grid"),
                   overdue("XS-1", "respond", "dongting-c01-g1", "grid")])  # redelivered
    u = row(r, "street", "dongting")
    assert (u.responses_due, u.responses_open_overdue, u.responses_on_time) == (1, 1, 0)
    assert u.response_rate == Rate(0, 1) and r.duplicates == 1 and r.lifecycle_events == 1
    assert r.street_total.response_rate == Rate(0, 1) and r.departments == ()


def test_overdue_then_closed_counts_once_in_the_period_it_was_missed() -> None:
    due = START - timedelta(days=1)  # missed in October, answered late, closed in November
    late = with_response(closed("XS-2", level="grid", street="dongting"), "late")
    late["data"]["path"][0]["units"] = ["dongting-c01-g1"]
    events = [overdue("XS-2", "respond", "dongting-c01-g1", "grid", due)]
    november = rates([late], events)
    assert november.street_total.responses_due == 0  # not again in November
    october = rates([late], events, START - timedelta(days=31), START)
    u = row(october, "street", "dongting")
    assert (u.responses_due, u.responses_late, u.responses_open_overdue) == (1, 1, 0)
    # its resolution (met: no resolve limit missed) counts when it closed, in November
    assert row(november, "street", "dongting").resolution_rate == Rate(1, 1)


def test_department_reports_resolutions_and_ratings() -> None:
    b = closed("XS-B", level="department", reports=(("water", "on_time"), ("housing", "late")))
    b["data"]["closed_units"] = ["water", "housing"]
    c = closed("XS-C", level="department", satisfied=None, reports=(("housing", None),))
    c["data"]["closed_units"] = ["housing"]
    events = [overdue("XS-B", "report", "housing", "department"),
              overdue("XS-C", "resolve", "housing", "department"),
              overdue("XS-O", "resolve", "water", "department"),  # open: owes it still
              overdue("XS-O", "progress", "water", "department", n=3)]  # not a rate
    r = rates([b, c], events)
    water, housing = row(r, "department", "water"), row(r, "department", "housing")
    assert (water.responses_on_time, water.responses_due) == (1, 1)
    assert (housing.responses_late, housing.responses_missed, housing.responses_due) == (1, 1, 2)
    assert (water.resolutions_on_time, water.resolutions_open_overdue) == (1, 1)
    assert (water.satisfied, water.satisfaction_open_overdue, water.rated) == (1, 1, 2)
    assert (housing.resolutions_overdue, housing.resolutions_due, housing.unrated) == (1, 1, 1)
    assert housing.satisfaction_rate.value is None  # unrated: not in the denominator
    t = r.department_total
    assert (t.response_rate, t.resolution_rate, t.satisfaction_rate) == \
        (Rate(1, 3), Rate(1, 3), Rate(1, 2))


def test_an_unsatisfied_rating_counts_unless_a_later_one_satisfies() -> None:
    a = closed("XS-A", level="street", street="anzhen")
    a["data"]["closed_units"] = ["anzhen"]
    events = [reopened("XS-A", "anzhen", "street"), reopened("XS-U", "anzhen", "street"),
              lifecycle("XS-E", "issue.escalated", {
                  "from_level": "street", "from_units": ["anzhen"], "to_level": "department",
                  "to_units": ["water"], "reason": "reopened_too_often", "rule": "r"}, INSIDE),
              lifecycle("XS-W", "issue.escalated", {
                  "from_level": "grid", "from_units": ["anzhen-g"], "to_level": "village",
                  "to_units": ["anzhen-c"], "reason": "whistle", "rule": "r"}, INSIDE)]
    u = row(rates([a], events), "street", "anzhen")
    assert (u.satisfied, u.unsatisfied, u.rated) == (1, 2, 3)
    assert (u.resolutions_on_time, u.resolutions_due) == (3, 3)


def test_closures_alone_give_the_rates_without_open_overdue() -> None:
    b = with_response(closed("XS-R", level="street"), "missed")
    u = row(rates([b], []), "street", "dongting")
    assert (u.responses_missed, u.responses_due, u.resolutions_on_time, u.satisfied) == \
        (1, 1, 1, 1)


def test_the_period_needs_a_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        assess_rates([], [], datetime(2026, 11, 1), END)  # noqa: DTZ001


# --- simulated Xishan traffic, cut off while issues are open --------------------------------

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=CST)
CUT = T0 + timedelta(days=20)


@cache
def simulated() -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...], int]:
    """(closures, every lifecycle event, open issues) of 300 issues stopped at ``CUT``."""
    rules = load_ruleset(SAMPLE_RULES).ruleset
    assert rules is not None
    events = [e for e in history(rules, T0, 300, timedelta(days=40), seed=11) if e.time < CUT]
    out = [json.loads(e.model_dump_json()) for d in Replayer(rules).run(events, until=CUT)
           for e in d.emit]
    closures = tuple(e for e in out if e["type"] == "issue.closed")
    issues = {e["subject"] for e in out}
    return closures, tuple(out), len(issues) - len(closures)


def sim_rates(start: datetime, end: datetime) -> ThreeRates:
    closures, events, _ = simulated()
    names = load_names(SAMPLE_RULES)
    return assess_rates(dedupe(closures)[0], [read(e) for e in events], start, end,
                        departments=list(names.departments), streets=list(names.streets),
                        territory=names.territory)


def totals(r: ThreeRates) -> dict[str, int]:
    return {f.name: getattr(r.department_total, f.name) + getattr(r.street_total, f.name)
            for f in COUNT_FIELDS}


def test_every_limit_counts_in_exactly_one_period() -> None:
    whole = totals(sim_rates(T0 - timedelta(days=1), CUT + timedelta(days=1)))
    edges = [T0 - timedelta(days=1), T0 + timedelta(days=3, hours=7), T0 + timedelta(days=9),
             T0 + timedelta(days=15, minutes=1), CUT + timedelta(days=1)]
    parts = [totals(sim_rates(a, b)) for a, b in itertools.pairwise(edges)]
    assert {k: sum(p[k] for p in parts) for k in whole} == whole
    assert whole["responses_open_overdue"] > 0 and whole["resolutions_open_overdue"] > 0


def test_open_overdue_equals_what_the_events_say() -> None:
    """A naive count: limits missed (respond, report, resolve) of issues with no closure."""
    closures, events, open_issues = simulated()
    assert open_issues > 0
    shut = {c["subject"] for c in closures}
    missed = {(e["subject"], e["data"]["kind"], e["data"]["unit"]) for e in events
              if e["type"] == "issue.overdue" and e["subject"] not in shut
              and e["data"]["kind"] != "progress"}
    r = sim_rates(T0 - timedelta(days=1), CUT + timedelta(days=1))
    every = r.department_total.plus(r.street_total)
    assert every.responses_open_overdue == sum(k != "resolve" for _, k, _ in missed)
    assert every.resolutions_open_overdue == sum(k == "resolve" for _, k, _ in missed)
    assert every.satisfaction_open_overdue <= every.resolutions_open_overdue
    # and every department's response limits equal its report records plus open overdue
    for d in r.departments:
        records = [x for c in closures for x in c["data"]["reports"]
                   if x["department"] == d.unit]
        open_missed = sum(1 for i, k, u in missed if k == "report" and u == d.unit)
        assert d.responses_due == len(records) + open_missed, d.unit
        assert d.responses_on_time == sum(x["outcome"] == "on_time" for x in records)


def period_report(fmt: str, moves: bool = False) -> str:
    """The report of November; ``moves``: with the workflow moves, as the command gives it."""
    closures, events, _ = simulated()
    names = load_names(SAMPLE_RULES)
    start, end = datetime(2026, 11, 1, tzinfo=CST), datetime(2026, 12, 1, tzinfo=CST)
    a = assess(closures, start, end, departments=list(names.departments),
               streets=list(names.streets))
    r = sim_rates(start, end)
    m = assess_moves(dedupe(closures)[0], [read(e) for e in events], start, end,
                     departments=list(names.departments), streets=list(names.streets),
                     territory=names.territory) if moves else None
    return render_table(a, names, r, m) if fmt == "txt" else render_csv(a, names, r, m)


@pytest.mark.parametrize("fmt", ["txt", "csv"])
def test_golden_report_with_the_three_rates(fmt: str) -> None:
    path = GOLDEN / f"three_rates.{fmt}"
    got = period_report(fmt)
    if os.environ.get("UPDATE_GOLDENS"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"run UPDATE_GOLDENS=1 and review {path}"


def test_csv_rates_are_their_counts() -> None:
    rows = list(csv.DictReader(io.StringIO(period_report("csv"))))
    for r in rows:
        if not r["unit_responses_on_time"]:
            continue
        due = sum(int(r[f"unit_responses_{k}"]) for k in ("on_time", "late", "missed",
                                                          "open_overdue"))
        assert (int(r["response_rate_numerator"]), int(r["response_rate_denominator"])) == \
            (int(r["unit_responses_on_time"]), due)
        assert r["response_rate"] == (Rate(int(r["unit_responses_on_time"]), due).percent()
                                      if due else "")
    assert [r["id"] for r in rows if r["section"] == "street"][-1] == TOTAL


def test_cli_reads_the_lifecycle_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    closures, events, _ = simulated()
    c = write_jsonl(tmp_path / "closed.jsonl", list(closures))
    lc = write_jsonl(tmp_path / "lifecycle.jsonl", list(events))
    base = ["report", "--from", "2026-11-01", "--to", "2026-12-01", "--events", str(c)]
    assert main([*base, "--lifecycle", str(lc)]) == 0
    out, err = capsys.readouterr()
    assert out == period_report("txt", moves=True) and "passed over" in err
    assert main(base) == 0  # closures only: said so, and no open overdue
    out, err = capsys.readouterr()
    assert "no issue.overdue events" in err and "open overdue" in out
    assert main(["report", "--from", "2026-11-01", "--to", "2026-12-01", "--events",
                 str(lc)]) == 0  # one lifecycle export holds everything
    assert capsys.readouterr().out == period_report("txt", moves=True)


def test_a_malformed_overdue_event_names_its_line(tmp_path: Path) -> None:
    bad = overdue("XS-1", "respond", "g", "grid")
    bad["data"]["kind"] = "soon"
    path = write_jsonl(tmp_path / "l.jsonl", [closed("XS-A"), bad])
    from engine.report.period import ReportInputError

    with pytest.raises(ReportInputError, match=r"l\.jsonl:2: not an issue\.overdue .*kind"):
        read_jsonl(path)
    got = read_jsonl(write_jsonl(tmp_path / "m.jsonl", [closed("XS-A"), overdue(
        "XS-1", "respond", "g", "grid")]), closed=False)
    assert (len(got.events), len(got.lifecycle), got.other) == (0, 1, 1)
    assert as_event(closed("XS-A")).subject == "XS-A" and Names().street(TOTAL)
