"""The shell around the core, without Kafka: a dict for the local store, a list for what is
delivered. Each call of the harness is one batch unless several messages are given at once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from engine.agents.clock import FixedClock
from engine.agents.index import DeadlineIndex
from engine.agents.metrics import Metrics
from engine.agents.processor import IssueProcessor, Message, Record
from engine.agents.store import IssueStore
from engine.agents.topics import Topics
from tests.factories import T0, ruleset

M = timedelta(minutes=1)
CHANGELOG = "whistle-issues-changelog"


class FakeSink:
    """What a batch delivered: every record, in order (changelog records included)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.records: list[Record] = []

    def take(self, records: list[Record]) -> list[Record]:
        self.records.extend(records)
        self.sent.extend((r.topic, r.key, r.value) for r in records if r.topic != CHANGELOG)
        return records

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(v) for t, _, v in self.sent if t == topic]


class Harness(IssueProcessor):
    sink: FakeSink

    def on_event(self, msg: Message, now: datetime) -> None:  # one message, one batch
        super().on_event(msg, now)
        self.sink.take(self.finish())

    def on_tick(self, partition: int, offset: int, now: datetime) -> None:
        super().on_tick(partition, offset, now)
        self.sink.take(self.finish())


def processor(table: dict[Any, Any], sink: FakeSink, metrics: Metrics | None = None,
              batched: bool = False) -> Any:
    rules = ruleset()
    cls = IssueProcessor if batched else Harness
    proc = cls(rules=lambda: rules, store=IssueStore(table), metrics=metrics or Metrics(),
               clock=FixedClock(T0), index=DeadlineIndex(), topics=Topics(),
               changelog=CHANGELOG)
    proc.sink = sink
    return proc


def make() -> tuple[Any, FakeSink, dict[Any, Any], Metrics]:
    table: dict[Any, Any] = {}
    sink = FakeSink()
    metrics = Metrics()
    return processor(table, sink, metrics), sink, table, metrics


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
    fresh = processor(dict(table), sink)
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


# --- batches: one state write per issue, and nothing lost when only part of a batch landed ----

ACK = cloud("acknowledged", "A", T0 + M, 2, unit="jinan-g1")
WHISTLE = cloud("whistled", "A", T0 + 2 * M, 3, unit="jinan-g1", reason="需要社区协调")
RAISE_B = cloud("raised", "B", T0, 4, grid="jinan-g2", category="noise", title="噪声")


def batch(proc: Any, values: list[bytes], now: datetime = T0 + 3 * M) -> list[Record]:
    for n, v in enumerate(values):
        proc.on_event(msg(v, key=json.loads(v)["subject"].encode(), offset=n), now)
    return list(proc.finish())


def outputs(records: list[Record]) -> list[tuple[str, str]]:
    return [(r.topic, json.loads(r.value)["id"]) for r in records if r.topic != CHANGELOG]


def test_a_batch_writes_each_touched_issue_once_before_its_events() -> None:
    table: dict[Any, Any] = {}
    proc = processor(table, FakeSink(), batched=True)
    records = batch(proc, [RAISE, ACK, RAISE_B, WHISTLE])
    changelog = [r for r in records if r.topic == CHANGELOG]
    assert sorted(r.key for r in changelog) == [b"A", b"B"]  # once per issue, not per event
    assert records[:2] == changelog  # states first, then the events, in the order decided
    assert all(r.partition == 0 for r in changelog)
    assert {r.key: r.value for r in changelog} == {b"A": table[b"A"], b"B": table[b"B"]}
    ids = [i for _, i in outputs(records)]
    assert ids[:2] == ["A:1:0", "B:1:0"] and ids[2].startswith("A:3:")  # in the order decided


def test_state_landed_events_lost_the_redelivered_batch_resends_every_event() -> None:
    """A crash after the changelog record was delivered but before the events were: the store
    holds the batch's final state, and the core alone would re-send only the last trigger's
    events. The outbox brings back the whole batch's output for the issue."""
    table: dict[Any, Any] = {}
    first = batch(processor(table, FakeSink(), batched=True), [RAISE, ACK, WHISTLE])
    landed = {r.key: r.value for r in first if r.topic == CHANGELOG}
    again = batch(processor(dict(landed), FakeSink(), batched=True), [RAISE, ACK, WHISTLE])
    assert set(outputs(again)) == set(outputs(first))
    assert not [r for r in again if r.topic == CHANGELOG]  # duplicates change nothing
    # redelivered across other batch boundaries (one message a batch), the same holds
    proc = processor(dict(landed), FakeSink(), batched=True)
    split: set[tuple[str, str]] = set()
    for v in (RAISE, ACK, WHISTLE):
        split |= set(outputs(batch(proc, [v])))
    assert split == set(outputs(first))


def test_nothing_landed_the_batch_is_decided_again_with_the_same_ids() -> None:
    first = batch(processor({}, FakeSink(), batched=True), [RAISE, ACK, WHISTLE])
    again = batch(processor({}, FakeSink(), batched=True), [RAISE, ACK, WHISTLE])
    assert outputs(again) == outputs(first)
    assert [r.value for r in again] == [r.value for r in first]


def test_a_redelivered_tick_batch_resends_the_ticks_events_for_every_issue() -> None:
    table: dict[Any, Any] = {}
    proc = processor(table, FakeSink(), batched=True)
    raised = batch(proc, [RAISE, RAISE_B], now=T0)
    proc.on_assigned({0})
    proc.on_tick(0, offset=7, now=T0 + 31 * M)
    proc.on_tick(0, offset=8, now=T0 + 32 * M)
    fired = proc.finish()
    assert {r.key for r in fired if r.topic == CHANGELOG} >= {b"A", b"\x00tick:0"}
    landed = {r.key: r.value for r in raised + fired if r.topic == CHANGELOG}
    again = processor(dict(landed), FakeSink(), batched=True)
    again.on_assigned({0})
    again.on_tick(0, offset=7, now=T0 + 31 * M)
    again.on_tick(0, offset=8, now=T0 + 32 * M)
    assert set(outputs(again.finish())) == set(outputs(fired)) != set()


def test_an_undecodable_state_is_quarantined_and_its_partition_goes_on() -> None:
    table: dict[Any, Any] = {b"Q": b'{"v": 1, "p": 0, "s": {"issue_id": "Q"}}'}
    sink = FakeSink()
    metrics = Metrics()
    proc = processor(table, sink, metrics)
    proc.on_event(msg(RAISE), T0)
    proc.on_assigned({0})
    proc.on_tick(0, offset=1, now=T0 + 31 * M)  # the index is rebuilt past the bad value
    assert [e["type"] for e in sink.on("issues.lifecycle")][-1] == "issue.assigned"
    proc.on_event(msg(cloud("acknowledged", "Q", T0, 9, unit="jinan-g1"), key=b"Q"), T0)
    (rejected,) = sink.on("issues.rejected")
    assert rejected["reason"] == "state_quarantined"
    assert table[b"Q"] == b'{"v": 1, "p": 0, "s": {"issue_id": "Q"}}'  # kept as it was
    assert metrics.registry.get_sample_value("whistle_state_quarantined_total") == 1


def test_states_in_every_earlier_format_are_read_and_their_deadlines_fire() -> None:
    """Real bytes written by earlier versions (tests/testdata/states) in the store: the index
    is rebuilt from them and a later fact is applied; nothing is quarantined."""
    from pathlib import Path

    from engine.agents.codec import decode

    metrics = Metrics()
    for path in sorted(Path("tests/testdata/states").glob("v*.jsonl")):
        for line in path.read_bytes().splitlines():
            stored = decode(line)
            table = {stored.state.issue_id.encode(): line}
            sink = FakeSink()
            proc = processor(table, sink, metrics)
            proc.on_assigned({stored.partition})
            proc.on_tick(stored.partition, offset=1, now=stored.state.raised_at)
            late = stored.state.raised_at + timedelta(days=400)
            proc.on_tick(stored.partition, offset=2, now=late)
            if stored.state.status != "closed" and stored.state.deadlines:
                assert sink.on("issues.lifecycle"), (path.name, stored.state.issue_id)
    assert metrics.registry.get_sample_value("whistle_state_quarantined_total") == 0


def test_an_issue_raised_in_the_batch_that_rebuilds_the_index_keeps_its_deadlines() -> None:
    proc = processor({}, FakeSink(), batched=True)
    proc.on_assigned({0})
    proc.on_event(msg(RAISE), T0)  # staged, not in the store yet
    proc.on_tick(0, offset=1, now=T0)  # the first tick after the assignment rebuilds
    proc.finish()
    proc.on_tick(0, offset=2, now=T0 + 31 * M)
    fired = [json.loads(r.value)["type"] for r in proc.finish() if r.topic != CHANGELOG]
    assert "issue.escalated" in fired


def test_two_crashes_in_a_row_still_resend_everything_the_first_batch_produced() -> None:
    """Crash 1: [RAISE, ACK] landed as state only. Crash 2: the redelivery [RAISE, ACK, WHISTLE]
    re-sent the first batch's events and changed the issue, and again only its state landed.
    A third run must still send the first batch's events: they were never delivered."""
    first = batch(processor({}, FakeSink(), batched=True), [RAISE, ACK])
    store1 = {r.key: r.value for r in first if r.topic == CHANGELOG}
    second = batch(processor(dict(store1), FakeSink(), batched=True), [RAISE, ACK, WHISTLE])
    store2 = {**store1, **{r.key: r.value for r in second if r.topic == CHANGELOG}}
    third = batch(processor(dict(store2), FakeSink(), batched=True), [RAISE, ACK, WHISTLE])
    assert set(outputs(first)) <= set(outputs(third))
    assert set(outputs(second)) <= set(outputs(third))


def test_two_crashes_in_a_row_on_a_tick_still_resend_the_ticks_events() -> None:
    raised = batch(processor({}, FakeSink(), batched=True), [RAISE], now=T0)
    store0 = {r.key: r.value for r in raised if r.topic == CHANGELOG}
    proc = processor(dict(store0), FakeSink(), batched=True)
    proc.on_assigned({0})
    proc.on_tick(0, offset=7, now=T0 + 31 * M)
    fired = proc.finish()
    store1 = {**store0, **{r.key: r.value for r in fired if r.topic == CHANGELOG}}

    def redelivered(store: dict[Any, Any]) -> list[Record]:
        """The tick again, then a fact for the same issue, in one batch."""
        proc = processor(dict(store), FakeSink(), batched=True)
        proc.on_assigned({0})
        proc.on_tick(0, offset=7, now=T0 + 31 * M)
        proc.on_event(msg(cloud("acknowledged", "A", T0 + 32 * M, 5, unit="jinan"), offset=1),
                      T0 + 32 * M)
        return list(proc.finish())

    again = redelivered(store1)
    store2 = {**store1, **{r.key: r.value for r in again if r.topic == CHANGELOG}}
    third = redelivered(store2)
    assert set(outputs(fired)) and set(outputs(fired)) <= set(outputs(third))


def test_unkeyed_records_and_reserved_subjects_are_rejected() -> None:
    proc, sink, table, _ = make()
    proc.on_event(msg(RAISE, key=None), T0)
    reserved = cloud("raised", "\x00tick:0", T0, 8, grid="jinan-g1", category="noise", title="t")
    proc.on_event(msg(reserved, key=b"\x00tick:0"), T0)
    assert [r["reason"] for r in sink.on("issues.rejected")] == [
        "subject_key_mismatch", "invalid_data"]
    assert table == {}


def test_a_huge_rejected_value_is_cut_and_points_to_the_original() -> None:
    proc, sink, _, _ = make()
    proc.max_bytes = 10 * 1024 * 1024
    huge = b"\x01" * (1024 * 1024)  # JSON-escaped it would be 6 MB: more than a record may be
    proc.on_event(msg(huge, offset=42), T0)
    (rejected,) = sink.on("issues.rejected")
    assert len(json.dumps(rejected)) < 1_000_000
    assert rejected["offset"] == 42 and "of 1048576 bytes, sha256 " in rejected["detail"]


def test_deadlines_past_the_calendar_data_are_counted_each_and_logged_once(
        capsys: Any) -> None:
    from engine.agents import logs
    from engine.agents.settings import SAMPLE_RULES
    from engine.rules.loader import load_ruleset

    logs.configure("warning")
    rules = load_ruleset(SAMPLE_RULES).ruleset
    assert rules is not None
    metrics = Metrics()
    proc = IssueProcessor(rules=lambda: rules, store=IssueStore({}), metrics=metrics,
                          clock=FixedClock(T0), index=DeadlineIndex(), topics=Topics())
    at = datetime(2026, 12, 31, 16, 0, tzinfo=T0.tzinfo)  # working-time limits reach 2027
    for n, issue in enumerate(("W1", "W2", "W3")):
        proc.on_event(msg(cloud("raised", issue, at, n, grid="anzhen-c01-g1",
                                category="illegal_parking", title="t"), key=issue.encode(),
                          offset=n), at)
    proc.finish()
    counted = metrics.registry.get_sample_value("whistle_deadlines_beyond_data_total")
    logged = [line for line in capsys.readouterr().err.splitlines()
              if "calendar data exhausted" in line]
    assert counted is not None and counted >= 3  # every issue's deadlines reach past 2026-12-31
    assert len(logged) == 1 and "2027" in logged[0] and "once" in logged[0]
