"""The shell around the core, without Kafka: a dict for the table, a list for the sink."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from engine.agents.metrics import Metrics
from engine.agents.processor import IssueProcessor, Message
from engine.agents.store import IssueStore
from tests.factories import T0, ruleset

M = timedelta(minutes=1)


class FakeSink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(v) for t, _, v in self.sent if t == topic]


def make() -> tuple[IssueProcessor, FakeSink, dict[Any, Any], Metrics]:
    rules = ruleset()
    table: dict[Any, Any] = {}
    sink = FakeSink()
    metrics = Metrics()
    proc = IssueProcessor(rules=lambda: rules, store=IssueStore(table), sink=sink, metrics=metrics)
    return proc, sink, table, metrics


def cloud(kind: str, issue: str, at: Any, n: int, **data: Any) -> bytes:
    return json.dumps({
        "specversion": "1.0", "id": f"ev-{n}", "source": "grid-app/test", "type": f"issue.{kind}",
        "subject": issue, "time": at.isoformat(), "data": data,
    }, ensure_ascii=False).encode()


def msg(value: bytes | None, key: bytes | None = b"A", offset: int = 0, partition: int = 0
        ) -> Message:
    return Message(topic="issues.events", partition=partition, offset=offset, key=key, value=value)


RAISE = cloud("raised", "A", T0, 1, grid="jinan-g1", category="illegal_parking", title="乱停车")


def test_an_accepted_event_writes_the_table_and_sends_the_lifecycle() -> None:
    proc, sink, table, metrics = make()
    proc.on_event(msg(RAISE), T0)
    (assigned,) = sink.on("issues.lifecycle")
    assert assigned["type"] == "issue.assigned" and assigned["subject"] == "A"
    assert assigned["specversion"] == "1.0" and assigned["source"] == "whistle/engine"
    assert b"A" in table
    get = metrics.registry.get_sample_value
    raised = {"street": "dongting", "category": "illegal_parking"}
    assert get("whistle_issues_raised_total", raised) == 1
    assert get("whistle_events_total", {"type": "issue.raised", "result": "accepted"}) == 1
    assert get("whistle_open_issues", {"level": "grid"}) == 1


def test_bad_input_goes_to_rejected_with_reason_and_original_bytes() -> None:
    proc, sink, _, metrics = make()
    proc.on_event(msg(b"{not json", offset=7), T0)
    proc.on_event(msg(cloud("raised", "B", T0, 2, grid="nowhere", category="x", title="t"),
                      key=b"B"), T0)
    proc.on_event(msg(None), T0)
    rejected = sink.on("issues.rejected")
    assert [r["reason"] for r in rejected] == ["invalid_json", "unknown_grid", "invalid_json"]
    assert rejected[0]["value"] == {"encoding": "utf-8", "data": "{not json"}
    assert rejected[0]["offset"] == 7 and rejected[0]["topic"] == "issues.events"
    assert metrics.registry.get_sample_value(
        "whistle_events_rejected_total", {"reason": "invalid_json"}) == 2
    assert sink.on("issues.lifecycle") == []


def test_a_redelivered_event_resends_the_same_events_and_counts_once() -> None:
    proc, sink, _, metrics = make()
    proc.on_event(msg(RAISE), T0)
    proc.on_event(msg(RAISE), T0)
    first, again = sink.on("issues.lifecycle")
    assert first == again
    assert metrics.registry.get_sample_value(
        "whistle_issues_raised_total", {"street": "dongting", "category": "illegal_parking"}) == 1
    assert metrics.registry.get_sample_value(
        "whistle_events_total", {"type": "issue.raised", "result": "duplicate"}) == 1


def test_a_tick_fires_due_deadlines_and_a_redelivered_tick_resends_them() -> None:
    proc, sink, _, metrics = make()
    proc.on_event(msg(RAISE), T0)
    proc.on_tick(0, offset=5, now=T0 + 31 * M)
    fired = [e["type"] for e in sink.on("issues.lifecycle")][1:]
    assert fired == ["issue.warning", "issue.overdue", "issue.escalated", "issue.assigned"]
    assert metrics.registry.get_sample_value("whistle_open_issues", {"level": "village"}) == 1
    assert metrics.registry.get_sample_value("whistle_open_issues", {"level": "grid"}) == 0
    n = len(sink.sent)
    proc.on_tick(0, offset=5, now=T0 + 31 * M)  # the same tick again, as after a crash
    again = [json.loads(v)["id"] for _, _, v in sink.sent[n:]]
    assert again and set(again) <= {json.loads(v)["id"] for _, _, v in sink.sent[:n]}
    proc.on_tick(0, offset=6, now=T0 + 32 * M)  # a new tick: nothing due
    assert metrics.registry.get_sample_value("whistle_timer_lag_seconds_count") == 1


def test_after_a_restart_the_index_is_rebuilt_from_the_table() -> None:
    proc, sink, table, _ = make()
    proc.on_event(msg(RAISE), T0)
    rules = ruleset()
    fresh = IssueProcessor(rules=lambda: rules, store=IssueStore(dict(table)), sink=sink,
                           metrics=Metrics())
    fresh.on_assigned({0})
    fresh.on_tick(0, offset=1, now=T0)
    assert fresh.metrics.registry.get_sample_value("whistle_open_issues", {"level": "grid"}) == 1
    fresh.on_tick(0, offset=2, now=T0 + 31 * M)
    assert [e["type"] for e in sink.on("issues.lifecycle")][-1] == "issue.assigned"


def test_closure_goes_to_the_closed_topic_too() -> None:
    proc, sink, _, _ = make()
    proc.on_event(msg(RAISE), T0)
    proc.on_event(msg(cloud("withdrawn", "A", T0 + M, 2, reason="ok")), T0 + M)
    (closed,) = sink.on("issues.closed")
    assert closed["type"] == "issue.closed" and closed["data"]["outcome"] == "withdrawn"
    assert sink.on("issues.lifecycle")[-1] == closed


def test_a_fact_about_an_issue_never_raised_goes_to_rejected() -> None:
    proc, sink, table, metrics = make()
    proc.on_event(msg(cloud("acknowledged", "Z", T0, 9, unit="jinan-g1"), key=b"Z"), T0)
    (rejected,) = sink.on("issues.rejected")
    assert rejected["reason"] == "unknown_issue" and b"Z" not in table
    assert metrics.registry.get_sample_value(
        "whistle_events_total", {"type": "issue.acknowledged", "result": "rejected"}) == 1
