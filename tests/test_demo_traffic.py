"""The demo's traffic (``DEMO_PACE``) through the core with a virtual clock, as the demo runs
it: the first Xishan working day reaches the departments, with late and missed reports,
reopens and closures, and no fact comes from a unit that does not hold the issue. And the live
summary is what the engine's events and metrics say."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.agents.demo import ARRIVALS_PER_SECOND, demo_clock
from engine.agents.demo_tally import Tally, report_outcomes, report_rates
from engine.agents.worker import DEMO_SPEED
from engine.domain.events import Envelope
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset
from engine.rules.loader import load_ruleset
from engine.simulation import DEMO_PACE, World

RULES = Path(__file__).resolve().parents[1] / "engine" / "sample" / "xishan"


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    ruleset = load_ruleset(RULES).ruleset
    assert ruleset is not None
    return ruleset


def day(rules: Ruleset, seed: int, hours: float) -> Counter[str]:
    """The demo's traffic for ``hours`` of Xishan time from its start: results and counts."""
    world = World(rules, seed=seed, pace=DEMO_PACE)
    rng = random.Random(seed)
    start = demo_clock(DEMO_SPEED).start
    end = start + timedelta(hours=hours)
    queue: list[tuple[datetime, int, Envelope]] = []
    at, n = start, 0
    while (at := at + timedelta(seconds=DEMO_SPEED * rng.expovariate(ARRIVALS_PER_SECOND))) < end:
        n += 1
        heapq.heappush(queue, (at, n, world.arrival(f"D-{n:04d}", at)))
    replayer, seen, order = Replayer(rules), Counter[str](), n
    while queue and queue[0][0] <= end:
        at, _, event = heapq.heappop(queue)
        if not world.current(event):
            continue
        for decision in replayer.feed(event):
            seen[decision.result + ":" + decision.reason] += 1
            for c in decision.counts:
                labels = dict(c.labels)
                if c.family == "whistle_report_outcomes_total":
                    seen[f"report:{labels['outcome']}"] += c.value
                elif c.family == "whistle_escalations_total":
                    seen[f"escalated:{labels['reason']}"] += c.value
            for out in decision.emit:
                seen[out.type] += 1
                for reaction in world.react(out):
                    order += 1
                    heapq.heappush(queue, (max(reaction.time, at), order, reaction))
    return seen


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_the_first_hours_show_the_whole_loop(rules: Ruleset, seed: int) -> None:
    seen = day(rules, seed, hours=8)  # the demo's first 48 s
    for what in ("escalated:whistle", "report:on_time", "report:late", "report:missed",
                 "issue.reopened", "issue.closed"):
        assert seen[what] > 0, (what, seen)
    assert not [k for k in seen if k.startswith("unfit:")], seen  # no not_holder and the like


def doc(n: int, kind: str, issue: str = "XS-DEMO-1-000001", **data: object) -> dict[str, object]:
    return {"id": f"{issue}:{n}:0", "type": f"issue.{kind}", "subject": issue, "data": data}


def test_the_tally_counts_each_event_of_the_demo_once() -> None:
    t = Tally("XS-DEMO-1")
    events = [doc(1, "assigned", reason="raised", level="grid"),
              doc(2, "escalated", reason="whistle"), doc(2, "escalated", reason="whistle"),
              doc(3, "assigned", reason="whistle", level="village"),
              doc(4, "reopened", count=1), doc(5, "closed", outcome="resolved", satisfied=True),
              doc(1, "assigned", issue="XS-OTHER-000001", reason="raised", level="grid")]
    assert [t.observe(e) for e in events] == [True, True, False, True, True, True, False]
    assert t.counts["raised"] == 1 and t.counts["escalated:whistle"] == 1
    assert t.counts["reopened"] == 1 and t.counts["closed:resolved"] == 1
    assert t.level == {}


METRICS = """\
# HELP whistle_report_outcomes_total Department reports (报到) by outcome: the report rate.
# TYPE whistle_report_outcomes_total counter
whistle_report_outcomes_total{department="housing",outcome="on_time"} 0.0
whistle_report_outcomes_total{department="traffic_police",outcome="on_time"} 2.0
whistle_report_outcomes_total{department="traffic_police",outcome="late"} 1.0
whistle_report_outcomes_total{department="traffic_police",outcome="missed"} 1.0
whistle_report_outcomes_created{department="traffic_police",outcome="missed"} 1.7e9
"""


def test_reports_and_the_report_rate_come_from_the_metrics() -> None:
    reports = report_outcomes(METRICS)
    assert reports == {"traffic_police": Counter(on_time=2, late=1, missed=1)}
    assert report_rates(reports).endswith("traffic_police 50% (2/4)")
    line = Tally("X").summary(5, demo_clock(DEMO_SPEED).start, reports)
    assert "department reports on time 2, late 1, missed 1" in line
