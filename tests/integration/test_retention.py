"""Retention on a real broker: a closed issue's key gets a tombstone on the changelog, its facts
are rejected as retired_issue, and a new worker recovering the changelog knows it too."""

from __future__ import annotations

import re
import signal
import time

import pytest

from engine.agents.store import retired_key
from tests.integration.conftest import Lane

pytestmark = pytest.mark.integration

RETAIN = {"WHISTLE_RETAIN_CLOSED": "3s"}


def gauge(text: str, status: str) -> float:
    m = re.search(rf'^whistle_table_issues{{status="{status}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else -1.0


def changelog(lane: Lane) -> list[tuple[bytes, bytes | None]]:
    from engine.streams.kafka import read

    return [(r.key, r.value) for r in read({"bootstrap_servers": [lane.broker.url]},
                                           [f"{lane.app_id}-issues-changelog"],
                                           idle_seconds=1.5)]


def test_a_retired_issue_is_tombstoned_rejected_and_remembered_after_a_restart(
    lane: Lane,
) -> None:
    w = lane.worker("a", env=RETAIN)
    w.wait_ready()
    lane.listen()
    lane.send("raised", "R1", grid="jinan-g1", category="noise", title="t")
    lane.send("raised", "R2", grid="jinan-g1", category="noise", title="t")
    lane.wait_type("R1", "assigned")
    lane.send("withdrawn", "R1", reason="solved")
    lane.wait(lambda: lane.of("R1", "closed"), why="R1 closed")
    lane.wait(lambda: gauge(w.metrics(), "retired") == 1, timeout=30, why="R1 retired")
    assert (gauge(w.metrics(), "closed"), gauge(w.metrics(), "open")) == (0, 1)

    records = lane.wait(lambda: (lambda rs: rs if (b"R1", None) in rs else None)(
        changelog(lane)), timeout=20, why="R1's tombstone on the changelog")
    r1 = [value for key, value in records if key == b"R1"]
    assert r1[-1] is None and all(v is not None for v in r1[:-1])
    assert any(key == retired_key("R1") and value for key, value in records)

    lane.send("acknowledged", "R1", unit="jinan-g1")
    lane.wait(lambda: [r for r in lane.out["rejected"] if r["reason"] == "retired_issue"],
              why="a fact for R1 rejected as retired_issue")

    assert w.kill(signal.SIGKILL) != 0
    w2 = lane.worker("b", env=RETAIN)
    w2.wait_ready()
    lane.send("raised", "R1", grid="jinan-g1", category="noise", title="again")  # re-sent
    lane.wait(lambda: len([r for r in lane.out["rejected"] if r["reason"] == "retired_issue"])
              >= 2, why="the re-sent raise rejected as retired_issue by the new worker")
    state = lane.wait(lambda: (lambda s: s if s["ready"] else None)(w2.state()), why="ready")
    assert state["issues"] == 1  # R2 only: R1's state is gone from the recovered table
    lane.wait(lambda: gauge(w2.metrics(), "retired") == 1, why="the marker counted after recovery")
    time.sleep(0.5)
    assert [e["type"] for e in lane.of("R1")].count("issue.assigned") == 1
    assert not [r for r in lane.out["rejected"] if r["reason"] == "unknown_issue"]
