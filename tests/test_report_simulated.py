"""Every report must equal what the events say.

The engine core runs over simulated Xishan traffic (the sample rules, a virtual clock); its
``issue.closed`` emits, redelivered and shuffled as an at-least-once topic would give them, go
through ``assess``; a second, deliberately naive count over the same JSON must agree on every
figure. The report rate must also equal the engine's own report-outcome counts (its metrics).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from functools import cache
from typing import Any

import pytest

from engine.agents.settings import SAMPLE_RULES
from engine.domain.events import IssueClosed
from engine.domain.replay import Replayer
from engine.report.figures import TOTAL, Assessment, assess
from engine.rules.loader import load_ruleset
from engine.simulation import history

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=CST)


@cache
def simulated() -> tuple[list[dict[str, Any]], Counter[tuple[str, str]]]:
    """The closures as JSON dicts, and the engine's counts of report outcomes per department."""
    rules = load_ruleset(SAMPLE_RULES).ruleset
    assert rules is not None
    events = list(history(rules, T0, 300, timedelta(days=40), seed=11))
    closures: list[dict[str, Any]] = []
    outcomes: Counter[tuple[str, str]] = Counter()
    for decision in Replayer(rules).run(events, until=T0 + timedelta(days=120)):
        for e in decision.emit:
            if isinstance(e, IssueClosed):
                closures.append(json.loads(e.model_dump_json()))
        for c in decision.counts:
            if c.family == "whistle_report_outcomes_total":
                labels = dict(c.labels)
                outcomes[labels["department"], labels["outcome"]] += int(c.value)
    return closures, outcomes


def at_least_once(closures: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = closures + [c for c in closures if rng.random() < 0.15]
    rng.shuffle(out)
    return out


def naive(closures: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Any]:
    """The figures by plain counting: first sight of each issue, then if-statements."""
    seen: set[str] = set()
    street: dict[str, Counter[str]] = defaultdict(Counter)
    dept: dict[str, Counter[str]] = defaultdict(Counter)
    for c in closures:
        if c["subject"] in seen:
            continue
        seen.add(c["subject"])
        d = c["data"]
        if not start <= datetime.fromisoformat(d["closed_at"]) < end:
            continue
        for key in (d["street"], TOTAL):
            s = street[key]
            s["closed"] += 1
            if d["outcome"] == "resolved":
                s["resolved"] += 1
                if d["closed_level"] == "grid" or d["closed_level"] == "village":
                    s["resolved_locally"] += 1
                if d["on_time"]:
                    s["resolved_on_time"] += 1
            else:
                s["withdrawn"] += 1
            if d["whistles"] > 0:
                s["whistled"] += 1
            if d["satisfied"] is not None:
                s["rated"] += 1
                if d["satisfied"]:
                    s["satisfied"] += 1
        for r in d["reports"]:
            for key in (r["department"], TOTAL):
                dept[key]["assigned"] += 1
                dept[key][r["outcome"]] += 1
    return {"street": street, "dept": dept, "issues": street[TOTAL]["closed"]}


def as_counters(a: Assessment) -> dict[str, Any]:
    streets = {s.street: Counter({k: v for k, v in vars(s).items() if k != "street" and v})
               for s in (*a.streets, a.district)}
    depts = {d.department: Counter({k: v for k, v in vars(d).items()
                                    if k != "department" and v})
             for d in (*a.departments, a.department_total)}
    return {"street": {k: v for k, v in streets.items() if v or k == TOTAL},
            "dept": {k: v for k, v in depts.items() if v}, "issues": a.issues}


PERIODS = [  # inside the traffic, its start, a slice cutting through it, everything
    (datetime(2026, 11, 10, tzinfo=CST), datetime(2026, 11, 24, tzinfo=CST)),
    (datetime(2026, 11, 1, tzinfo=CST), datetime(2026, 11, 9, tzinfo=CST)),
    (datetime(2026, 11, 30, 12, tzinfo=CST), datetime(2026, 12, 13, 17, 30, tzinfo=CST)),
    (datetime(2026, 1, 1, tzinfo=CST), datetime(2028, 1, 1, tzinfo=CST)),
]


@pytest.mark.parametrize(("start", "end"), PERIODS, ids=["mid", "first-week", "slice", "all"])
def test_figures_equal_a_naive_count_of_the_engines_closures(start: datetime,
                                                             end: datetime) -> None:
    closures, _ = simulated()
    delivered = at_least_once(closures, seed=start.day)
    a = assess(delivered, start, end)
    expected = naive(delivered, start, end)
    expected["street"] = {k: v for k, v in expected["street"].items() if v or k == TOTAL}
    assert as_counters(a) == expected
    assert a.issues + a.outside == len(closures)
    assert a.duplicates == len(delivered) - len(closures)
    d = a.district
    if d.resolved:
        assert d.local_resolution_rate.value == Fraction(
            expected["street"][TOTAL]["resolved_locally"], expected["street"][TOTAL]["resolved"])


def test_the_traffic_exercises_every_kind_of_figure() -> None:
    closures, _ = simulated()
    a = assess(closures, *PERIODS[-1])
    d, t = a.district, a.department_total
    assert a.issues == len(closures) >= 250 and a.outside == 0 and a.duplicates == 0
    assert d.withdrawn > 0 and 0 < d.whistled < d.closed and 0 < d.rated < d.resolved
    assert 0 < d.resolved_locally < d.resolved and 0 < d.resolved_on_time < d.resolved
    assert t.on_time > 0 and t.late > 0 and t.missed > 0


def test_the_report_rate_equals_the_engines_own_counts() -> None:
    closures, outcomes = simulated()
    a = assess(closures, *PERIODS[-1])
    for d in a.departments:
        assert (d.on_time, d.late, d.missed) == tuple(
            outcomes[d.department, o] for o in ("on_time", "late", "missed")), d.department
    assert a.department_total.assigned == sum(outcomes.values())
