"""The points ledger out of the shell (points.ledger, not issues.lifecycle; redeliveries re-send
the same ids) and back in through ``whistle points`` (totals per person and kind, once per id)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from engine.agents.clock import FixedClock
from engine.agents.index import DeadlineIndex
from engine.agents.metrics import Metrics
from engine.agents.store import IssueStore
from engine.agents.topics import Topics
from engine.cli import main
from engine.ledger import Ledger, LedgerError, totals
from tests.factories import T0
from tests.people import PM, RIDER, M, people_rules
from tests.test_processor import FakeSink, Harness, cloud, msg

CHANGELOG = "whistle-issues-changelog"


def shell(table: dict[Any, Any] | None = None, sink: FakeSink | None = None,
          metrics: Metrics | None = None) -> Harness:
    rules = people_rules()
    proc = Harness(rules=lambda: rules, store=IssueStore({} if table is None else table),
                   metrics=metrics or Metrics(), clock=FixedClock(T0), index=DeadlineIndex(),
                   topics=Topics(), changelog=CHANGELOG)
    proc.sink = sink or FakeSink()
    return proc


def history(issue: str = "A", satisfied: bool = True, n: int = 0) -> list[bytes]:
    """Raised by a rider, claimed, resolved with the claimant, rated."""
    return [
        cloud("raised", issue, T0, n + 1, grid="jinan-g1", category="illegal_parking",
              title="乱停车", reporter=RIDER),
        cloud("acknowledged", issue, T0 + M, n + 2, unit="jinan-g1"),
        cloud("claimed", issue, T0 + 2 * M, n + 3, claimant=PM),
        cloud("resolved", issue, T0 + 20 * M, n + 4, unit="jinan-g1", claimant=PM),
        cloud("rated", issue, T0 + 30 * M, n + 5, satisfied=satisfied),
    ]


def feed(proc: Harness, values: list[bytes], key: bytes = b"A") -> None:
    for offset, value in enumerate(values):
        proc.on_event(msg(value, key=key, offset=offset), T0 + 40 * M)


def test_ledger_events_go_to_points_ledger_only() -> None:
    proc = shell()
    feed(proc, history())
    ledger = proc.sink.on("points.ledger")
    assert [(e["type"], e["data"]["rule"], e["data"]["person"]["id"]) for e in ledger] == [
        ("points.awarded", "rider", "rd-0003"),
        ("points.awarded", "claim-resolved", "pm-0001"),
        ("points.awarded", "claim-satisfied", "pm-0001"),
    ]
    lifecycle = proc.sink.on("issues.lifecycle")
    assert not [e for e in lifecycle if e["type"].startswith("points.")]
    (closed,) = proc.sink.on("issues.closed")
    assert [c["outcome"] for c in closed["data"]["claims"]] == ["held"]
    get = proc.metrics.registry.get_sample_value
    assert get("whistle_points_awarded_total", {"kind": "rider", "rule": "rider"}) == 5
    assert get("whistle_points_awarded_total",
               {"kind": "party_member", "rule": "claim-satisfied"}) == 7
    assert get("whistle_claims_total", {"kind": "party_member", "outcome": "held"}) == 1


def test_a_redelivered_fact_re_sends_the_same_ledger_ids_and_counts_nothing_twice() -> None:
    table: dict[Any, Any] = {}
    metrics = Metrics()
    first = shell(table, metrics=metrics)
    feed(first, history()[:4])  # up to the resolution
    sent = [e["id"] for e in first.sink.on("points.ledger")]
    # the worker crashed after writing the state, before the offsets were committed: the
    # resolution comes again to a new worker on the same table
    second = shell(table, metrics=metrics)
    second.on_event(msg(history()[3], offset=3), T0 + 40 * M)
    assert [e["id"] for e in second.sink.on("points.ledger")] == sent
    get = metrics.registry.get_sample_value
    assert get("whistle_points_awarded_total", {"kind": "rider", "rule": "rider"}) == 5


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events),
                    encoding="utf-8")
    return path


def ledger_of(*histories: list[bytes], keys: tuple[bytes, ...] = (b"A",)) -> list[Any]:
    proc = shell()
    for values, key in zip(histories, keys, strict=True):
        feed(proc, values, key)
    return proc.sink.on("points.ledger")


def test_whistle_points_totals_per_person_and_kind_counting_each_id_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    events = ledger_of(history("A"), history("B", satisfied=False, n=10), keys=(b"A", b"B"))
    # B: awarded on resolution, reversed by the unsatisfied rating
    assert [e["type"] for e in events].count("points.reversed") == 2
    path = write_jsonl(tmp_path / "ledger.jsonl", events + events[:3])  # redeliveries
    assert main(["points", "--events", str(path), "--period", "2026-11", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    got = {(r["scope"], r["kind"], r["id"]): (int(r["awarded"]), int(r["reversed"]),
                                              int(r["net"])) for r in rows}
    assert got == {
        ("person", "party_member", "pm-0001"): (3 + 7 + 3, 3, 10),
        ("person", "rider", "rd-0003"): (10, 5, 5),
        ("kind", "party_member", ""): (13, 3, 10),
        ("kind", "rider", ""): (10, 5, 5),
    }
    assert "3 redelivered event(s) counted once" in err


def test_the_period_selects_by_event_time(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "ledger.jsonl", ledger_of(history()))
    # T0 is 2026-11-23 09:00 +08:00; the resolution at 09:20, the rating at 09:30
    assert main(["points", "--events", str(path), "--from", "2026-11-23T09:25:00+08:00",
                 "--to", "2026-11-24"]) == 0
    out = capsys.readouterr().out
    assert "1 ledger event(s)" in out and "pm-0001" in out and "rd-0003" not in out
    assert main(["points", "--events", str(path), "--period", "2026-11-22"]) == 0
    assert "0 ledger event(s)" in capsys.readouterr().out
    assert main(["points", "--events", str(path), "--period", "2026"]) == 0
    assert "3 ledger event(s)" in capsys.readouterr().out


def test_lifecycle_events_are_passed_over_and_bad_lines_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    proc = shell()
    feed(proc, history())
    mixed = proc.sink.on("issues.lifecycle") + proc.sink.on("points.ledger")
    path = write_jsonl(tmp_path / "all.jsonl", mixed)
    assert main(["points", "--events", str(path)]) == 0
    assert "passed over" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "points.awarded", "id": "x"}\n', encoding="utf-8")
    assert main(["points", "--events", str(bad)]) == 1
    assert f"{bad}:1: points.awarded:" in capsys.readouterr().err
    assert main(["points", "--events", str(path), "--period", "2026-13"]) == 1
    assert "--period '2026-13'" in capsys.readouterr().err
    assert main(["points", "--events", str(path), "--period", "2026", "--from", "2026-01-01"]) == 1
    capsys.readouterr()


def test_totals_never_count_person_ids_into_kinds_twice() -> None:
    ledger = Ledger()
    for e in ledger_of(history()):
        ledger.add(json.dumps(e), "x")
    t = totals(ledger)
    assert {k: len(x.people) for k, x in t.by_kind.items()} == {"party_member": 1, "rider": 1}
    assert t.events == 3
    with pytest.raises(LedgerError):
        ledger.add("[]", "y")
    assert "volunteer" not in t.by_kind  # a kind with no events has no row
