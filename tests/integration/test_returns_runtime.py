"""Returns (退单) and extensions (延期) through the running engine on a real broker (Tansu).

Rules: tests/testdata/live-rules-returns (24x7, limits of seconds). A department returns an
issue, the street accepts and re-routes it; the new lead asks for more time, the street
approves, and the moved resolve limit fires at its new time through the durable deadlines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.conftest import EmbeddedBroker, Lane

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[1] / "testdata" / "live-rules-returns"


@pytest.fixture
def workflow_lane(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Lane]:
    lane = Lane(broker, tmp_path, rules=RULES)
    yield lane
    lane.close()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_return_is_re_routed_and_an_extension_moves_the_deadline(workflow_lane: Lane) -> None:
    lane = workflow_lane
    w = lane.worker()
    w.wait_ready()
    lane.listen()
    lane.send("raised", "WF1", grid="jinan-g1", category="illegal_parking", title="占道停车")
    lane.wait_type("WF1", "assigned")
    lane.send("acknowledged", "WF1", unit="dongting")
    lane.send("whistled", "WF1", unit="dongting", reason="需部门处置")
    first = lane.wait_type("WF1", "assigned", 2)[-1]["data"]
    assert first["units"] == ["traffic_police", "urban_management"]

    # the traffic police return it; a decision by the wrong unit does not fit; the street
    # (the level above the departments it called in) accepts it for housing
    lane.send("return_requested", "WF1", unit="traffic_police", reason_code="not_ours",
              note="属于物业管理", suggested="housing")
    pending = lane.wait_type("WF1", "return_pending")[0]["data"]
    assert (pending["adjudicator"], pending["paused"]) == ("dongting", False)
    lane.send("return_decided", "WF1", decision="accepted", by="city_operations")
    lane.send("return_decided", "WF1", decision="accepted", by="dongting")
    rerouted = lane.wait_type("WF1", "assigned", 3)[-1]
    assert rerouted["data"]["reason"] == "return_accepted"
    assert rerouted["data"]["units"] == ["housing"] and rerouted["data"]["lead"] == "housing"
    resolve_by = when(rerouted["data"]["resolve_by"])
    assert resolve_by == when(rerouted["time"]) + timedelta(seconds=10)  # the route's limit anew

    # housing asks, before its limit, for 8 s more; the street approves
    lane.send("extension_requested", "WF1", unit="housing",
              until=(resolve_by + timedelta(seconds=8)).isoformat(), basis="物业合同",
              reason="需业委会表决")
    asked = lane.wait_type("WF1", "extension_pending")[0]["data"]
    assert asked["approvers"] == ["dongting", "city_operations"]
    lane.send("extension_decided", "WF1", decision="approved", approver="dongting")
    extended = lane.wait_type("WF1", "extended")[0]["data"]
    assert when(extended["previous_resolve_by"]) == resolve_by
    moved = when(extended["resolve_by"])
    assert moved == resolve_by + timedelta(seconds=8)

    # the moved limit passes: the durable deadline fires at the new time, not the old one
    overdue = lane.wait_type("WF1", "overdue", timeout=60)
    resolve_overdue = [o["data"] for o in overdue if o["data"]["kind"] == "resolve"]
    assert [when(o["due"]) for o in resolve_overdue] == [moved]
    assert datetime.now(UTC) >= moved

    lane.send("resolved", "WF1", unit="housing")
    lane.send("rated", "WF1", satisfied=True, score=4)
    (closed,) = lane.wait(lambda: lane.of("WF1", "closed"), why="closure of WF1")
    c = closed["data"]
    assert [(p["level"], p["units"], p["reason"]) for p in c["path"]] == [
        ("street", ["dongting"], "raised"),
        ("department", ["traffic_police", "urban_management"], "whistle"),
        ("department", ["housing"], "return_accepted"),
    ]
    (ret,) = c["returns"]
    assert (ret["unit"], ret["decision"], ret["by"], ret["to"]) == (
        "traffic_police", "accepted", "dongting", ["housing"])
    (ext,) = c["extensions"]
    assert (ext["unit"], ext["decision"], ext["approver"], ext["missed"]) == (
        "housing", "approved", "dongting", True)
    assert when(ext["until"]) == moved and c["on_time"] is False
    metrics = w.metrics()
    for line in (
        'whistle_returns_total{stage="requested",unit="traffic_police"} 1.0',
        'whistle_returns_total{stage="accepted",unit="traffic_police"} 1.0',
        'whistle_returns_total{stage="rejected",unit="traffic_police"} 0.0',
        'whistle_extensions_total{stage="approved",unit="housing"} 1.0',
        'whistle_extensions_total{stage="missed",unit="housing"} 1.0',
        'whistle_events_total{result="unfit",type="issue.return_decided"} 1.0',
    ):
        assert line in metrics, line
