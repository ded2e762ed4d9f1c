"""The engine on a real Kafka-protocol broker (Tansu), with real timeouts, restarts and crashes.

Rules: tests/testdata/live-rules (limits of a few seconds, 24x7). Each test has its own topics
and consumer group; workers are `whistle run` subprocesses.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.domain.replay import Replayer
from engine.rules.loader import load_ruleset
from tests.integration.conftest import LIVE_RULES, Lane

pytestmark = pytest.mark.integration


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("issue.") for e in events]


def started(lane: Lane, n: int = 1) -> list[Any]:
    workers = [lane.worker(chr(ord("a") + i)) for i in range(n)]
    for w in workers:
        w.wait_ready()
    lane.listen()
    return workers


def test_full_lifecycle_with_timeout_whistle_reports_reopen_and_closure(lane: Lane) -> None:
    (w,) = started(lane)
    lane.send("raised", "L1", grid="jinan-g1", category="illegal_parking", title="乱停车")
    # nobody at the grid answers: the respond limit (3 s) passes and the village takes it
    esc = lane.wait_type("L1", "escalated")[0]
    assert esc["data"]["reason"] == "respond_overdue" and esc["data"]["to_level"] == "village"
    lane.send("acknowledged", "L1", unit="jinan")
    lane.send("whistled", "L1", unit="jinan", reason="需要街道协调")
    lane.wait_type("L1", "escalated", 2)
    lane.send("acknowledged", "L1", unit="dongting")
    lane.send("whistled", "L1", unit="dongting", reason="需交警城管联合")
    assigned = lane.wait_type("L1", "assigned", 4)[-1]["data"]
    assert assigned["level"] == "department"
    assert assigned["units"] == ["traffic_police", "urban_management"]
    lane.send("reported", "L1", department="traffic_police")
    lane.send("resolved", "L1", unit="traffic_police")
    lane.send("rated", "L1", satisfied=False, score=2)
    lane.wait_type("L1", "reopened")
    lane.send("resolved", "L1", unit="traffic_police")
    lane.send("rated", "L1", satisfied=True, score=5)
    (closed,) = lane.wait(lambda: lane.of("L1", "closed"), why="closure of L1")
    c = closed["data"]
    assert c["outcome"] == "resolved" and c["satisfied"] is True
    assert [p["level"] for p in c["path"]] == ["grid", "village", "street", "department"]
    assert [p["reason"] for p in c["path"]] == ["raised", "respond_overdue", "whistle", "whistle"]
    assert {r["department"]: r["outcome"] for r in c["reports"]} == {
        "traffic_police": "on_time", "urban_management": "missed"}
    assert c["reopens"] == 1 and c["whistles"] == 2
    seq = types(lane.of("L1"))
    assert seq[0] == "assigned" and seq[-1] == "closed" and "overdue" in seq
    metrics = w.metrics()
    assert 'whistle_report_outcomes_total{department="traffic_police",outcome="on_time"} 1.0' \
        in metrics
    assert 'whistle_issues_closed_total{closed_level="department",on_time="false",' \
        'outcome="resolved",street="dongting"} 1.0' in metrics


def test_bad_messages_go_to_rejected_while_good_traffic_continues(lane: Lane) -> None:
    started(lane)
    lane.send("raised", "R0", raw=b"{not json", key=b"R0")
    lane.send("raised", "R1", raw=b"x" * 70_000, key=b"R1")
    lane.send("escalated", "R2", grid="jinan-g1")
    lane.send("raised", "R3", grid="no-such-grid", category="noise", title="t")
    lane.send("raised", "R4", grid="jinan-g1", category="noise", title="夜间噪声")
    lane.wait_type("R4", "assigned")
    rejected = lane.wait(lambda: lane.out["rejected"] if len(lane.out["rejected"]) >= 4 else None,
                         why="4 rejections")
    assert sorted(r["reason"] for r in rejected) == [
        "invalid_json", "too_large", "unknown_grid", "unknown_type"]
    bad = next(r for r in rejected if r["reason"] == "invalid_json")
    assert bad["value"] == {"encoding": "utf-8", "data": "{not json"}
    assert bad["topic"] == lane.topics.events and bad["offset"] >= 0


def test_every_event_delivered_twice_yields_the_same_outcome_as_once(lane: Lane) -> None:
    started(lane)
    t0 = datetime.now(UTC)
    script = [
        ("raised", {"grid": "jinan-g1", "category": "noise", "title": "噪声"}),
        ("acknowledged", {"unit": "jinan-g1"}),
        ("whistled", {"unit": "jinan-g1", "reason": "r"}),
        ("acknowledged", {"unit": "jinan"}),
        ("resolved", {"unit": "jinan"}),
        ("rated", {"satisfied": True}),
    ]
    for n, (kind, data) in enumerate(script):
        at = t0 + timedelta(milliseconds=100 * n)
        lane.send(kind, "ONCE", at=at, event_id=f"once-{n}", **data)
        for _ in range(2):
            lane.send(kind, "TWICE", at=at, event_id=f"twice-{n}", **data)
    once = lane.wait(lambda: lane.of("ONCE", "closed"), why="ONCE closed")[0]["data"]
    twice = lane.wait(lambda: lane.of("TWICE", "closed"), why="TWICE closed")[0]["data"]
    assert {k: v for k, v in once.items()} == {k: v for k, v in twice.items()}
    assert types(lane.of("ONCE")) == types(lane.of("TWICE"))


def expected_closures(lane: Lane, sent: list[bytes], until: datetime) -> dict[str, Any]:
    """What an uninterrupted engine closes, from the core's own replay of the same events."""
    from engine.domain.parse import Accepted, parse

    rules = load_ruleset(LIVE_RULES).ruleset
    assert rules is not None
    events = []
    for raw in sent:
        parsed = parse(raw, None, rules.registry.grids)
        assert isinstance(parsed, Accepted)
        events.append(parsed.event)
    out: dict[str, Any] = {}
    for d in Replayer(rules).run(sorted(events, key=lambda e: e.time), until=until):
        for e in d.emit:
            if e.type == "issue.closed":
                out[e.subject] = e.model_dump(mode="json")["data"]
    return out


def publish_batch(lane: Lane, n: int, tag: str) -> list[bytes]:
    """n issues: raised, acknowledged, resolved, never rated: each closes by its rating window
    (a deadline) 4 s after its resolution."""
    sent = []
    t0 = datetime.now(UTC)
    for i in range(n):
        issue = f"{tag}{i:03d}"
        at = t0 + timedelta(milliseconds=i)
        sent.append(lane.send("raised", issue, at=at, grid=f"jinan-g{1 + i % 2}",
                              category="noise", title="t"))
        sent.append(lane.send("acknowledged", issue, at=at + timedelta(milliseconds=200),
                              unit=f"jinan-g{1 + i % 2}"))
        sent.append(lane.send("resolved", issue, at=at + timedelta(milliseconds=400),
                              unit=f"jinan-g{1 + i % 2}"))
    return sent


def closures(lane: Lane, prefix: str) -> dict[str, Any]:
    return {e["subject"]: e["data"] for e in lane.out["closed"] if e["subject"].startswith(prefix)}


def test_sigkill_mid_stream_then_a_new_worker_reaches_the_same_closures(lane: Lane) -> None:
    (w,) = started(lane)
    sent = publish_batch(lane, 40, "K")
    lane.wait(lambda: any(e["type"] == "issue.assigned" for e in lane.out["lifecycle"]),
              why="first assignment")
    w.kill(signal.SIGKILL)  # mid-stream: deadlines pending, some events unprocessed
    w2 = lane.worker("b")
    w2.wait_ready()
    got = lane.wait(lambda: (lambda c: c if len(c) >= 40 else None)(closures(lane, "K")),
                    timeout=90, why="40 closures after the restart")
    want = expected_closures(lane, sent, datetime.now(UTC) + timedelta(minutes=5))
    assert got == want


def test_a_crash_after_the_state_write_still_sends_the_events(lane: Lane) -> None:
    w = lane.worker("a", env={"WHISTLE_TEST_CRASH_AFTER_WRITE": "C1"})
    w.wait_ready()
    lane.listen()
    lane.send("raised", "C1", grid="jinan-g1", category="noise", title="t")
    assert w.proc.wait(timeout=30) == 70  # exited after writing C1's state, before sending
    assert lane.of("C1") == []
    w2 = lane.worker("b")
    w2.wait_ready()
    (assigned,) = lane.wait_type("C1", "assigned")
    assert assigned["data"]["level"] == "grid" and assigned["id"] == "C1:1:0"


def test_table_state_after_a_restart_equals_the_state_before(lane: Lane) -> None:
    (w,) = started(lane)
    publish_batch(lane, 60, "T")
    lane.wait(lambda: len([e for e in lane.out["lifecycle"] if e["type"] == "issue.assigned"])
              >= 60, why="60 assignments")
    time.sleep(1.0)
    before = w.state()
    assert before["issues"] == 60
    assert w.kill(signal.SIGTERM) == 0
    w2 = lane.worker("b")
    w2.wait_ready()
    after = lane.wait(lambda: (lambda s: s if s["issues"] >= before["issues"] else None)(
        w2.state()), timeout=30, why="recovered table")
    # Tansu's wrong ListOffsets answer would stop recovery early without the adapter
    assert (after["issues"], after["digest"]) == (before["issues"], before["digest"])


def test_two_workers_share_partitions_and_one_finishes_when_the_other_dies(lane: Lane) -> None:
    a, b = started(lane, 2)
    lane.wait(lambda: len(a.state()["partitions"]) + len(b.state()["partitions"]) == 4
              and a.state()["partitions"] and b.state()["partitions"], timeout=60,
              why="partitions split between the two workers")
    sent = publish_batch(lane, 40, "F")
    lane.wait(lambda: len([e for e in lane.out["lifecycle"] if e["type"] == "issue.assigned"])
              >= 10, why="some assignments")
    a.kill(signal.SIGKILL)
    got = lane.wait(lambda: (lambda c: c if len(c) >= 40 else None)(closures(lane, "F")),
                    timeout=120, why="40 closures with one worker left")
    want = expected_closures(lane, sent, datetime.now(UTC) + timedelta(minutes=5))
    assert got == want
    assert len(b.state()["partitions"]) == 4


def metric(text: str, name: str, **labels: str) -> float | None:
    import re

    for m in re.finditer(rf"^{name}{{([^}}]*)}} (\S+)$", text, re.M):
        got = dict(kv.split("=", 1) for kv in m.group(1).split(",") if kv)
        if all(got.get(k, "").strip('"') == v for k, v in labels.items()):
            return float(m.group(2))
    return None


def test_a_running_worker_takes_a_valid_rules_change_and_refuses_a_broken_one(
    lane: Lane, tmp_path: Any,
) -> None:
    import shutil
    import urllib.request

    rules = tmp_path / "rules"
    shutil.copytree(LIVE_RULES, rules)
    lane.rules = rules
    (w,) = started(lane)
    v1 = load_ruleset(rules).version
    assert metric(w.metrics(), "whistle_rules_info", version=v1) == 1
    # a valid change: picked up by the file watch, applied to new issues
    text = (rules / "rules.yaml").read_text()
    (rules / "rules.yaml").write_text(text.replace("respond: 3s, resolve: 6s}", "respond: 5s, "
                                                   "resolve: 6s}", 1))
    v2 = load_ruleset(rules).version
    assert v2 != v1
    lane.wait(lambda: metric(w.metrics(), "whistle_rules_info", version=v2) == 1, 30,
              why="version 2 in force")
    lane.send("raised", "H1", grid="jinan-g1", category="noise", title="t")
    assigned = lane.wait_type("H1", "assigned")[0]["data"]
    assert assigned["rules_version"] == v2
    # a broken change: refused, counted, the running version stays, the worker goes on
    (rules / "rules.yaml").write_text(text.replace("respond: 3s", "respond: 0s", 1))
    lane.wait(lambda: (metric(w.metrics(), "whistle_rules_reloads_total", result="failure")
                       or 0) >= 1, 30, why="refused reload counted")
    assert metric(w.metrics(), "whistle_rules_info", version=v2) == 1
    request = urllib.request.Request(f"http://127.0.0.1:{w.port}/-/reload", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5)
        raise AssertionError("a broken reload must answer 400")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 400 and "rules.yaml:" in body and "zero" in body.lower()
    lane.send("raised", "H2", grid="jinan-g2", category="noise", title="t")
    assert lane.wait_type("H2", "assigned")[0]["data"]["rules_version"] == v2
    # fixed again and reloaded by SIGHUP
    (rules / "rules.yaml").write_text(text)
    w.proc.send_signal(signal.SIGHUP)
    lane.wait(lambda: metric(w.metrics(), "whistle_rules_info", version=v1) == 1, 30,
              why="back to version 1")
    assert w.proc.poll() is None
