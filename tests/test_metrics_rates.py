"""The three rates' metrics equal what the events say: simulated Xishan traffic through the core,
each decision given to ``Metrics.decided`` as the processor does, stopped half way."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engine.agents.metrics import Metrics, open_overdue
from engine.agents.settings import SAMPLE_RULES
from engine.domain.events import (
    IssueClosed,
    IssueEscalated,
    IssueOverdue,
    IssueReopened,
    IssueResolved,
)
from engine.domain.replay import Replayer
from engine.domain.state import IssueState
from engine.rules.loader import load_ruleset
from engine.simulation import history

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=CST)


def run(until: datetime) -> tuple[Metrics, list[Any], dict[str, IssueState], Counter[str]]:
    rules = load_ruleset(SAMPLE_RULES).ruleset
    assert rules is not None
    metrics = Metrics()
    metrics.init_series(rules.registry, rules.categories)
    states: dict[str, IssueState] = {}
    emitted: list[Any] = []
    resolved: Counter[str] = Counter()  # accepted issue.resolved per issue
    replayer = Replayer(rules)
    events = sorted((e for e in history(rules, T0, 300, timedelta(days=40), seed=11)
                     if e.time < until), key=lambda e: e.time)
    for i, event in enumerate(events):
        if i % 37 == 0:  # the processor flushes at the end of each batch
            metrics.flush()
        decisions = list(replayer.feed(event))
        for n, d in enumerate(decisions):
            if d.state is None:
                continue
            metrics.decided(0, states.get(d.state.issue_id), d.state, d.emit)
            states[d.state.issue_id] = d.state
            emitted.extend(d.emit)
            if n == len(decisions) - 1 and isinstance(event, IssueResolved) and \
                    d.result == "accepted":
                resolved[event.subject] += 1
    for d in replayer.advance(until):
        assert d.state is not None
        metrics.decided(0, states.get(d.state.issue_id), d.state, d.emit)
        states[d.state.issue_id] = d.state
        emitted.extend(d.emit)
    metrics.flush()
    return metrics, emitted, states, resolved


def unit(states: dict[str, IssueState], issue: str, level: str, holder: str) -> str:
    return holder if level == "department" else states[issue].street


@pytest.mark.parametrize("cut", [timedelta(days=3, hours=3), timedelta(days=30, hours=3)],
                         ids=["a report overdue", "a response overdue"])
def test_counters_equal_the_events_and_the_gauge_equals_a_rebuild(cut: timedelta) -> None:
    """(The sample rules climb on most missed limits, so few stay open overdue: these cuts
    leave a department's report, and a street's response, overdue on open issues.)"""
    metrics, emitted, states, resolved = run(T0 + cut)
    get = metrics.registry.get_sample_value
    missed: Counter[tuple[str, str]] = Counter()
    ratings: Counter[tuple[str, str]] = Counter()
    for e in emitted:
        if isinstance(e, IssueOverdue) and e.data.kind != "progress":
            missed[e.data.kind, unit(states, e.subject, e.data.level, e.data.unit)] += 1
        elif isinstance(e, IssueClosed) and e.data.satisfied:
            ratings[unit(states, e.subject, e.data.closed_level, e.data.closed_units[0]),
                    "true"] += 1
        elif isinstance(e, IssueReopened):
            ratings[unit(states, e.subject, e.data.level, e.data.units[0]), "false"] += 1
        elif isinstance(e, IssueEscalated) and e.data.reason == "reopened_too_often":
            ratings[unit(states, e.subject, e.data.from_level, e.data.from_units[0]),
                    "false"] += 1
    assert sum(missed.values()) > 5
    for (kind, u), n in missed.items():
        assert get("whistle_unit_limits_missed_total", {"kind": kind, "unit": u}) == n
    for (u, sat), n in ratings.items():
        assert get("whistle_unit_ratings_total", {"unit": u, "satisfied": sat}) == n
    resolutions = sum(get("whistle_unit_resolutions_total", {"unit": u, "outcome": o}) or 0
                      for u in {s.street for s in states.values()} | {
                          d for s in states.values() for d in s.units}
                      for o in ("on_time", "late"))
    assert resolutions == sum(resolved.values())

    # the gauge: kept by every decision, equal to a count from the table (a rebalance's
    # rebuild), and to the events: a report overdue not yet made on an issue not closed
    gauge = Counter({(k, u): get("whistle_open_overdue_limits", {"kind": k, "unit": u})
                     for k, u in {key for s in states.values() for key in open_overdue(s)}})
    fresh = Metrics()
    fresh.overdue_set(3, (open_overdue(s) for s in states.values()))
    assert gauge == Counter({k: fresh.registry.get_sample_value(
        "whistle_open_overdue_limits", {"kind": k[0], "unit": k[1]}) for k in gauge})
    assert sum(gauge.values()) > 0
    closed = {e.subject for e in emitted if isinstance(e, IssueClosed)}
    late_reports = {(s.issue_id, r.department) for s in states.values() for r in s.reports
                    if r.outcome is not None}
    overdue_reports = Counter(
        e.data.unit for e in emitted if isinstance(e, IssueOverdue) and e.data.kind == "report"
        and e.subject not in closed and (e.subject, e.data.unit) not in late_reports)
    for dept, n in overdue_reports.items():
        assert gauge["report", dept] == n


def test_everything_closed_leaves_no_open_overdue_limit() -> None:
    metrics, _, states, _ = run(T0 + timedelta(days=260))  # past every limit (2027 holidays)
    assert all(s.status == "closed" for s in states.values())
    samples = metrics.open_overdue.collect()[0].samples
    assert samples and all(x.value == 0 for x in samples)
