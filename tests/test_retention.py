"""Closed issues retire from the table after the retention window, leaving a marker for a while:
a tombstone on the changelog, facts rejected as ``retired_issue``, nothing repeated on a
redelivered tick or a restart, and ``whistle_table_issues`` equal to what the table holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.agents.clock import FixedClock
from engine.agents.index import DeadlineIndex
from engine.agents.metrics import Metrics
from engine.agents.processor import IssueProcessor
from engine.agents.retention import RetentionIndex
from engine.agents.store import IssueStore, Retired, retired_key
from engine.agents.topics import Topics
from tests.factories import T0, ruleset
from tests.test_processor import CHANGELOG, RAISE, FakeSink, Harness, cloud, msg

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
RETAIN, REMEMBER = 2 * D, 10 * D
WITHDRAW = cloud("withdrawn", "A", T0 + M, 2, reason="resolved elsewhere")
ACK_LATE = cloud("acknowledged", "A", T0 + 3 * D, 3, unit="jinan-g1")


def make(table: dict[Any, Any] | None = None, sink: FakeSink | None = None) -> Harness:
    rules = ruleset()
    proc = Harness(rules=lambda: rules, store=IssueStore({} if table is None else table),
                   metrics=Metrics(), clock=FixedClock(T0), index=DeadlineIndex(),
                   topics=Topics(), changelog=CHANGELOG,
                   retention=RetentionIndex(RETAIN, REMEMBER))
    proc.sink = sink or FakeSink()
    proc.on_assigned({0})
    return proc


def held(proc: IssueProcessor, status: str) -> float | None:
    return proc.metrics.registry.get_sample_value("whistle_table_issues", {"status": status})


def closed_issue() -> Harness:
    proc = make()
    proc.on_tick(0, offset=0, now=T0)  # the first tick builds the indexes
    proc.on_event(msg(RAISE, offset=1), T0)
    proc.on_event(msg(WITHDRAW, offset=2), T0 + M)
    assert held(proc, "closed") == 1 and held(proc, "open") == 0
    return proc


def changelog(proc: Harness) -> list[tuple[bytes | None, bytes | None]]:
    return [(r.key, r.value) for r in proc.sink.records if r.topic == CHANGELOG]


def test_a_closed_issue_is_kept_for_the_window_then_tombstoned_with_a_marker() -> None:
    proc = closed_issue()
    table = proc.store.local
    proc.on_tick(0, offset=3, now=T0 + RETAIN)  # closed at T0 + 1 min: not yet
    assert b"A" in table and held(proc, "closed") == 1
    before = len(changelog(proc))
    proc.on_tick(0, offset=4, now=T0 + M + RETAIN)
    written = changelog(proc)[before:]
    assert (b"A", None) in written, "the state's key gets a tombstone"
    marker = dict(written)[retired_key("A")]
    assert marker is not None and Retired.decode(marker) == Retired(0, T0 + M, T0 + M + RETAIN)
    assert b"A" not in table and retired_key("A") in table
    assert (held(proc, "closed"), held(proc, "retired")) == (0, 1)


def test_facts_for_a_retired_issue_are_rejected_with_their_own_reason_and_never_raise_it() -> None:
    proc = closed_issue()
    proc.on_tick(0, offset=3, now=T0 + 3 * D)
    proc.on_event(msg(ACK_LATE, offset=4), T0 + 3 * D)
    proc.on_event(msg(RAISE, offset=5), T0 + 3 * D)  # the raise re-sent by its source
    rejected = proc.sink.on("issues.rejected")
    assert [r["reason"] for r in rejected] == ["retired_issue", "retired_issue"]
    assert b"A" not in proc.store.local
    assert [e["type"] for e in proc.sink.on("issues.lifecycle")].count("issue.assigned") == 1
    assert proc.metrics.registry.get_sample_value(
        "whistle_events_rejected_total", {"reason": "retired_issue"}) == 2


def test_retirement_is_done_once_across_redelivered_ticks_and_restarts() -> None:
    proc = closed_issue()
    proc.on_tick(0, offset=3, now=T0 + 3 * D)
    after_first = len(changelog(proc))
    proc.on_tick(0, offset=3, now=T0 + 3 * D)  # redelivered
    proc.on_tick(0, offset=4, now=T0 + 4 * D)
    assert len(changelog(proc)) == after_first
    # a new worker over the same table: the marker is found, nothing is retired again
    fresh = make(dict(proc.store.local.items()), FakeSink())
    fresh.on_tick(0, offset=5, now=T0 + 4 * D)
    assert changelog(fresh) == []
    assert (held(fresh, "retired"), held(fresh, "closed")) == (1, 0)
    fresh.on_event(msg(ACK_LATE, offset=6), T0 + 4 * D)
    assert [r["reason"] for r in fresh.sink.on("issues.rejected")] == ["retired_issue"]


def test_the_marker_is_forgotten_after_its_window_and_the_id_is_unknown_again() -> None:
    proc = closed_issue()
    retired_at = T0 + 3 * D
    proc.on_tick(0, offset=3, now=retired_at)
    proc.on_tick(0, offset=4, now=retired_at + REMEMBER - M)
    assert retired_key("A") in proc.store.local
    # restarted in between: the rebuilt heap knows when the marker is due
    fresh = make(dict(proc.store.local.items()), FakeSink())
    fresh.on_tick(0, offset=5, now=retired_at + REMEMBER)
    assert changelog(fresh) == [(retired_key("A"), None)]
    assert retired_key("A") not in fresh.store.local and held(fresh, "retired") == 0
    fresh.on_event(msg(ACK_LATE, offset=6), retired_at + REMEMBER)
    assert [r["reason"] for r in fresh.sink.on("issues.rejected")] == ["unknown_issue"]


def test_a_closure_long_past_still_waits_a_grace_after_it_was_decided() -> None:
    """A backlog being caught up closes issues whose closed_at is far behind the clock: they
    stay long enough for the redelivery of a batch that crashed to find them."""
    proc = make()
    now = T0 + 30 * D
    proc.on_tick(0, offset=0, now=now)
    proc.on_event(msg(RAISE, offset=1), now)
    proc.on_event(msg(WITHDRAW, offset=2), now)
    proc.on_tick(0, offset=3, now=now + M)
    assert b"A" in proc.store.local
    proc.on_tick(0, offset=4, now=now + 10 * M)
    assert b"A" not in proc.store.local and held(proc, "retired") == 1


def test_a_restart_rebuilds_the_retirements_from_the_table() -> None:
    proc = closed_issue()
    fresh = make(dict(proc.store.local.items()), FakeSink())
    fresh.on_tick(0, offset=3, now=T0 + D)
    assert held(fresh, "closed") == 1 and b"A" in fresh.store.local
    fresh.on_tick(0, offset=4, now=T0 + M + RETAIN)
    assert b"A" not in fresh.store.local and held(fresh, "retired") == 1


def test_open_issues_never_retire() -> None:
    proc = make()
    proc.on_tick(0, offset=0, now=T0)
    proc.on_event(msg(RAISE, offset=1), T0)
    proc.on_tick(0, offset=2, now=T0 + 100 * D)  # deadlines fire, the issue climbs, stays open
    assert b"A" in proc.store.local
    assert held(proc, "retired") == 0


def test_a_retired_marker_reads_back_from_its_v1_bytes() -> None:
    raw = (b'{"v": 1, "p": 3, "closed_at": "2026-11-23T01:01:00+00:00", '
           b'"retired_at": "2026-11-26T01:00:00+00:00"}')
    marker = Retired.decode(raw)
    assert marker is not None and marker.partition == 3
    assert marker.closed_at == datetime.fromisoformat("2026-11-23T01:01:00+00:00")
    assert Retired.decode(marker.encode()) == marker
    assert Retired.decode(b"not json") is None and Retired.decode(b'{"v": 9}') is None
