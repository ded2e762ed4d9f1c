"""Supervision and parking on a real Kafka-protocol broker (Tansu), through `whistle run`.

Rules: tests/testdata/live-rules-workflow (second-scale limits, 24x7). Urging climbs to a
supervision case by the engine's durable deadlines; a parked issue is reviewed and resumed with
its limit moved by the paused time. Both are checked on the lifecycle and closed topics and in
the worker's metrics.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT, EmbeddedBroker, Lane

pytestmark = pytest.mark.integration

RULES = ROOT / "tests" / "testdata" / "live-rules-workflow"


@pytest.fixture
def workflow_lane(broker: EmbeddedBroker, tmp_path: Path) -> Any:
    lane = Lane(broker, tmp_path, rules=RULES)
    yield lane
    lane.close()


def sample(metrics: str, family: str, **labels: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(family + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def when(e: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(e["time"])


def test_urging_climbs_to_a_supervision_case_and_a_parked_issue_is_reviewed_and_resumed(
        workflow_lane: Lane) -> None:
    lane = workflow_lane
    w = lane.worker("a")
    w.wait_ready()
    lane.listen()

    # --- urging up to a supervision case ---------------------------------------------------
    lane.send("raised", "U1", grid="jinan-g1", category="blocked_drain", title="雨水井堵塞")
    lane.send("acknowledged", "U1", unit="dongting")
    lane.send("whistled", "U1", unit="dongting", reason="需城管疏通")
    # --- a parked project: asked, approved, reviewed, resumed ------------------------------
    lane.send("raised", "P1", grid="jinan-g2", category="old_compound_renovation",
              title="老旧小区改造")
    lane.send("acknowledged", "P1", unit="dongting")
    first = lane.wait_type("P1", "assigned")[0]["data"]
    review_at = datetime.now(UTC) + timedelta(seconds=4)
    lane.send("park_requested", "P1", unit="dongting", reason="等待预算", plan="明年立项",
              review_at=review_at.isoformat())
    lane.send("park_decided", "P1", decision="approved", approver="traffic_police")  # unfit
    lane.send("park_decided", "P1", decision="approved", approver="housing")
    parked = lane.wait_type("P1", "parked")[0]
    lane.wait(lambda: sample(w.metrics(), "whistle_parked_issues", unit="dongting") == 1,
              why="the parked gauge")

    supervised = lane.wait_type("U1", "supervised")[0]
    urged = lane.wait_type("U1", "urged", 2)
    overdue = [e for e in lane.of("U1") if e["type"] == "issue.overdue"
               and e["data"]["kind"] == "resolve"]
    assert len(overdue) == 1
    missed = datetime.fromisoformat(overdue[0]["data"]["due"])
    assert [e["data"]["step"] for e in (*urged, supervised)] == [1, 2, 3]
    assert [when(e) - missed for e in (*urged, supervised)] == [
        timedelta(0), timedelta(seconds=2), timedelta(seconds=4)]
    assert [e["data"]["copy_to"] for e in (*urged, supervised)] == [
        [], ["dongting"], ["dongting", "housing"]]
    assert {tuple(e["data"]["units"]) for e in (*urged, supervised)} == {("urban_management",)}
    lane.send("resolved", "U1", unit="urban_management")
    lane.send("rated", "U1", satisfied=True, score=3)

    review = lane.wait_type("P1", "review_due", timeout=30)[0]
    assert abs(when(review) - review_at) < timedelta(milliseconds=1)
    assert not [e for e in lane.of("P1") if e["type"] in ("issue.overdue", "issue.escalated")]
    time.sleep(1)
    lane.send("unparked", "P1", unit="housing", note="预算已批")
    resumed = lane.wait_type("P1", "resumed")[0]["data"]
    moved = [e for e in lane.wait_type("P1", "assigned", 2) if e["data"]["reason"] == "unparked"]
    period = resumed["period"]
    paused = datetime.fromisoformat(period["until"]) - datetime.fromisoformat(period["since"])
    assert period["paused_seconds"] == pytest.approx(paused.total_seconds(), abs=1e-3)
    assert datetime.fromisoformat(moved[0]["data"]["resolve_by"]) - datetime.fromisoformat(
        first["resolve_by"]) == pytest.approx(paused, abs=timedelta(seconds=1))
    lane.send("resolved", "P1", unit="dongting")
    lane.send("rated", "P1", satisfied=True, score=5)

    (closed_u,) = lane.wait(lambda: lane.of("U1", "closed"), why="closure of U1")
    (closed_p,) = lane.wait(lambda: lane.of("P1", "closed"), why="closure of P1")
    assert closed_u["data"]["urgings"] == 3 and closed_u["data"]["supervised"] is True
    assert closed_u["data"]["on_time"] is False
    (span,) = closed_p["data"]["parked"]
    assert (span["since"], span["until"], span["approver"]) == (
        parked["data"]["since"], period["until"], "housing")
    assert closed_p["data"]["on_time"] is True and closed_p["data"]["urgings"] == 0

    # metrics equal what the events say
    metrics = w.metrics()
    for step in ("1", "2", "3"):
        assert sample(metrics, "whistle_urgings_total", unit="urban_management", step=step,
                      level="department") == 1
    assert sample(metrics, "whistle_supervisions_total", unit="urban_management") == 1
    assert sample(metrics, "whistle_parks_total", unit="dongting", decision="approved") == 1
    assert sample(metrics, "whistle_parked_issues", unit="dongting") == 0
    count = sample(metrics, "whistle_parked_seconds_count", level="street")
    assert count == 1
    assert sample(metrics, "whistle_parked_seconds_sum", level="street") == pytest.approx(
        paused.total_seconds(), abs=1e-3)
    assert sample(metrics, "whistle_events_total", type="issue.park_decided",
                  result="unfit") == 1
