"""Who holds what with two workers on the real broker: issues land on both workers' partitions,
and each worker answers for every issue (lists, filters, pages, one issue, 404, 400) the same,
and what it answers is what the lifecycle events say."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.integration.conftest import Lane, Worker

pytestmark = pytest.mark.integration

CLIMBING = [f"WA-P{i:02d}" for i in range(8)]  # rule default: climbs to the departments
STEADY = [f"WA-N{i:02d}" for i in range(8)]  # rule steady: stays at its grid for a minute


def get(w: Worker, path: str, **params: str) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{w.port}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def every(w: Worker, limit: int = 3, **params: str) -> list[dict[str, Any]]:
    """Every page of a list, walked by its cursor."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        extra = {"cursor": cursor} if cursor else {}
        status, body = get(w, "/api/issues", limit=str(limit), **params, **extra)
        assert status == 200, body
        assert body["partitions"] == [0, 1, 2, 3]
        assert len(body["items"]) <= limit
        out += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["total"] == len(out), body
            return out
    raise AssertionError("the cursor never ended")


def said(lane: Lane, issue: str) -> dict[str, Any]:
    """Where the lifecycle events say the issue is: its last assignment, and the state
    version of its last event."""
    events = lane.of(issue)
    last = [e for e in events if e["type"] == "issue.assigned"][-1]["data"]
    return {"level": last["level"], "units": last["units"], "lead": last["lead"],
            "resolve_by": last["resolve_by"],
            "version": max(e["data"]["sequence"] for e in events)}


def test_two_workers_each_answer_for_every_issue_as_the_events_say(lane: Lane) -> None:
    a, b = lane.worker("a"), lane.worker("b")
    a.wait_ready()
    lane.listen()
    b.wait_ready()
    lane.wait(lambda: a.state()["ready"] and b.state()["ready"]
              and sorted(a.state()["partitions"] + b.state()["partitions"]) == [0, 1, 2, 3]
              and a.state()["partitions"] and b.state()["partitions"], timeout=90,
              why="partitions split between the two workers")
    raised = time.monotonic()
    for i, issue in enumerate(STEADY):
        lane.send("raised", issue, grid="jinan-g1" if i % 2 else "jinan-g2", category="noise",
                  title="噪声扰民", reporter={"kind": "resident", "id": "13900000000"})
    for issue in CLIMBING:
        lane.send("raised", issue, grid="jinan-g1", category="illegal_parking", title="乱停车")
    # the climbing ones reach the departments and miss their reports there
    for issue in CLIMBING:
        lane.wait(lambda issue=issue: [e for e in lane.of(issue) if e["type"] == "issue.overdue"
                                       and e["data"]["level"] == "department"
                                       and e["data"]["kind"] == "report"],
                  timeout=60, why=f"{issue} overdue at the department level")
    for issue in STEADY:
        lane.wait_type(issue, "assigned")
    assert time.monotonic() - raised < 55, "too slow: the steady issues' limits (60 s) passed"

    everyone = sorted(STEADY + CLIMBING)
    a_held, b_held = set(a.state()["partitions"]), set(b.state()["partitions"])

    def agree() -> dict[int, list[dict[str, Any]]] | None:
        """Each worker's whole list, if both equal what the events say (the events of a batch
        reach the collector a moment after its states reach the table: poll)."""
        lists = {w.port: every(w) for w in (a, b)}
        for items in lists.values():
            if [i["id"] for i in items] != everyone:
                return None
            for item in items:
                want = said(lane, item["id"])
                got = {**{k: item[k] for k in want},
                       "resolve_by": item["resolve_by"].replace("Z", "+00:00")}
                want["resolve_by"] = want["resolve_by"].replace("Z", "+00:00")
                if got != want:
                    return None
        return lists if lists[a.port] == lists[b.port] else None

    lists = lane.wait(agree, timeout=30, why="both workers' lists equal to the events")
    for items in lists.values():
        parts = {i["partition"] for i in items}
        assert parts & a_held and parts & b_held, "the issues landed on one worker only"
        text = json.dumps(items, ensure_ascii=False)
        assert "13900000000" not in text and "噪声扰民" not in text  # no reporter, no title
    for item in lists[a.port]:
        climbing = item["id"] in CLIMBING
        assert item["overdue"] is climbing, item
        if climbing:
            assert item["level"] == "department" and item["lead"] == "traffic_police"
            assert {m["kind"] for m in item["missed"]} >= {"report"}
            assert [p["level"] for p in item["path"]] == ["grid", "village", "street"]
            assert [r["department"] for r in item["reports"]] == ["traffic_police",
                                                                 "urban_management"]
        else:
            assert item["level"] == "grid" and item["path"] == [] and not item["missed"]

    filters: list[tuple[dict[str, str], list[str]]] = [
        ({"level": "department"}, sorted(CLIMBING)),
        ({"overdue": "true"}, sorted(CLIMBING)),
        ({"overdue": "false"}, sorted(STEADY)),
        ({"level": "grid", "unit": "jinan-g1"}, sorted(STEADY[1::2])),
        ({"unit": "urban_management"}, sorted(CLIMBING)),
        ({"street": "dongting", "status": "open"}, everyone),
        ({"status": "closed"}, []),
        ({"street": "nowhere"}, []),
    ]
    for params, want in filters:
        for w in (a, b):
            assert [i["id"] for i in every(w, limit=5, **params)] == want, (params, w.port)

    for issue in (CLIMBING[0], STEADY[0], STEADY[-1]):
        def one(issue: str = issue) -> bool:
            bodies = []
            for w in (a, b):
                status, body = get(w, f"/api/issues/{issue}")
                assert status == 200, body
                bodies.append(body)
            listed = next(i for i in every(a) if i["id"] == issue)
            return bodies[0] == bodies[1] == listed and body["version"] == said(
                lane, issue)["version"]

        lane.wait(one, timeout=20, why=f"GET /api/issues/{issue} the same from both")

    for w in (a, b):
        status, body = get(w, "/api/issues/WA-NOPE")
        assert status == 404 and body["error"] == "not_found", body
        status, body = get(w, "/api/issues", level="town")
        assert status == 400 and body["detail"].startswith("level: 'town' is not a level"), body
        status, body = get(w, "/api/issues", limit="0")
        assert status == 400 and body["detail"].startswith("limit:"), body
        status, body = get(w, "/api/issues", cursor="nonsense!")
        assert status == 400 and body["detail"].startswith("cursor:"), body
