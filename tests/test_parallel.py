"""``whistle replay --workers N``: issues partitioned across processes, the same result as one."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.domain.events import Envelope
from engine.domain.parse import Accepted, parse
from engine.domain.ruleset import Ruleset
from engine.parallel import Partition, WorkerError, partition, replay, route, time_key
from engine.rules.loader import load_ruleset
from engine.simulation import history
from engine.whatif import Outcome, report, run
from tests.test_whatif import SAMPLE, START, candidate, known

FORK = multiprocessing.get_start_method() == "fork"


@cache
def rules(directory: Path = SAMPLE) -> Ruleset:
    loaded = load_ruleset(directory).ruleset
    assert loaded is not None
    return loaded


@cache
def lines(issues: int) -> tuple[tuple[int, bytes], ...]:
    """A generated month as raw lines (shuffled: the replay orders them) and two bad lines."""
    events = list(history(rules(), START, issues, timedelta(days=30), seed=11)) + known()
    raw = [e.model_dump_json().encode() for e in events] + [b"not json", b'{"subject": 1}']
    numbered = list(enumerate(raw, 1))
    random.Random(3).shuffle(numbered)
    return tuple(numbered)


def reference(numbered: tuple[tuple[int, bytes], ...], rules: Ruleset) -> Outcome:
    """``whatif.run`` over the parsed events sorted by time, input order among equal times."""
    accepted = []
    for _, raw in sorted(numbered):
        parsed = parse(raw, None, rules.registry.grids)
        if isinstance(parsed, Accepted):
            accepted.append(parsed.event)
    return run(rules, sorted(accepted, key=lambda e: e.time))


def figures(o: Outcome) -> tuple[Any, ...]:
    return (o.events, o.decisions, o.final, o.signatures, o.escalations, o.breaches, o.figures)


@pytest.fixture(scope="module")
def cand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return candidate(tmp_path_factory.mktemp("rules"))


@pytest.fixture(scope="module")
def expected(cand_dir: Path) -> tuple[Outcome, Outcome]:
    return reference(lines(200), rules(cand_dir)), reference(lines(200), rules())


def test_the_history_has_what_partitioning_could_break(expected: tuple[Outcome, Outcome]
                                                       ) -> None:
    cand, base = expected
    steps = {s for sigs in base.signatures.values() for s in sigs}
    assert base.decisions > base.events  # deadlines fired
    assert "reopened" in steps and any(s.startswith("escalated") for s in steps)
    assert base.breaches and base.escalations and base.figures is not None
    assert any(a != b for a, b in ((cand.final[i], base.final[i]) for i in base.final))


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_give_the_outcome_of_one_process(workers: int, cand_dir: Path,
                                                 expected: tuple[Outcome, Outcome]) -> None:
    result = replay(lines(200), rules(cand_dir), rules(), workers=workers)
    assert result.baseline is not None
    assert figures(result.candidate) == figures(expected[0])
    assert figures(result.baseline) == figures(expected[1])
    assert result.rejected_count == 2 and [n for n, _ in result.rejected] == sorted(
        n for n, raw in lines(200) if raw in (b"not json", b'{"subject": 1}'))
    timing = re.compile(r"in [0-9.]+ s \([0-9,]+ events/s\)")
    assert [timing.sub("", line) for line in report(result.candidate, result.baseline)] == [
        timing.sub("", line) for line in report(*expected)]


def test_the_command_prints_the_same_report_with_any_number_of_workers(
        cand_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(raw + b"\n" for _, raw in lines(200)))
    timing = re.compile(r"in [0-9.]+ s \([0-9,]+ events/s\)")
    outputs = []
    for workers in ("1", "2"):
        assert main(["replay", "--rules", str(cand_dir), "--baseline", str(SAMPLE),
                     "--events", str(path), "--workers", workers]) == 0
        captured = capsys.readouterr()
        skipped = [line for line in captured.err.splitlines() if line.startswith("skipped")]
        outputs.append((timing.sub("", captured.out), skipped))
    assert outputs[0] == outputs[1]
    assert "K1: resolved at village (satisfied) -> open at department" in outputs[0][0]
    assert len(outputs[0][1]) == 2 and "invalid_json" in outputs[0][1][0] + outputs[0][1][1]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_any_partition_count_and_input_order_give_the_same_outcome(count: int, seed: int
                                                                    ) -> None:
    numbered = list(lines(40))
    random.Random(seed).shuffle(numbered)  # positions travel with the lines: same input
    result = replay(numbered, rules(), workers=count, processes=False)
    assert figures(result.candidate) == figures(_small_reference())


@cache
def _small_reference() -> Outcome:
    return reference(lines(40), rules())


def test_an_issue_stays_in_its_partition_however_its_line_is_written() -> None:
    event: Envelope = known()[0]
    body = json.loads(event.model_dump_json())
    variants = [
        json.dumps(body).encode(),  # ASCII escapes for the title
        json.dumps({**body, "subject": "K\u00e9"}, ensure_ascii=False).encode(),
        json.dumps({**body, "subject": "K\u00e9"}).encode(),  # the subject escaped: "K\\u00e9"
        json.dumps(body).replace('"subject": "K1"', '"subj\\u0065ct": "K1"').encode(),
        # a nested "subject", and the same key twice (the last one counts)
        json.dumps({**body, "data": {**body["data"], "title": 'say "subject": "X"'}}).encode(),
        (json.dumps(body)[:-1] + ', "subject": "K9"}').encode(),
        json.dumps({**body, "time": "2026-11-23T01:00:00Z"}).encode(),
        json.dumps({**body, "time": "2026-11-23t01:00:00.1234567z"}).encode(),
        json.dumps({**body, "time": "2026-11-23T09:00:00.5+08:00"}, ensure_ascii=False).encode(),
    ]
    for raw in variants:
        parsed = parse(raw, None, rules().registry.grids)
        assert isinstance(parsed, Accepted), raw
        for count in (2, 3, 5):
            assert route(raw, 0, count) == partition(parsed.event.subject, count), raw
        key = time_key(raw)
        assert key is None or key == parsed.event.time, raw
    assert time_key(variants[6]) == datetime(2026, 11, 23, 1, tzinfo=UTC)


def test_a_line_sorted_by_a_wrong_time_stops_the_replay() -> None:
    raw = known()[0].model_dump_json().encode()
    part = Partition(0, 1, rules())
    part.pending.append((datetime(2000, 1, 1, tzinfo=UTC), 1, raw))
    with pytest.raises(RuntimeError, match="sorted by 2000-01-01"):
        part.feed()


def _fail(self: Partition, chunk: object) -> None:
    raise ValueError("this partition cannot go on")


def _die(self: Partition, chunk: object) -> None:
    os._exit(3)


@pytest.mark.skipif(not FORK, reason="the patched method reaches workers by fork")
def test_a_worker_error_surfaces_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Partition, "add", _fail)
    with pytest.raises(WorkerError, match=r"(?s)failed:.*ValueError: this partition cannot go on"):
        replay(lines(40), rules(), workers=2)


@pytest.mark.skipif(not FORK, reason="the patched method reaches workers by fork")
def test_a_worker_that_dies_silently_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Partition, "add", _die)
    many = [(n, raw) for k in range(12) for n, raw in ((k * 10**6 + n, r) for n, r in lines(40))]
    with pytest.raises(WorkerError, match="exited with code 3"):
        replay(many, rules(), workers=2)  # more than a pipe holds: the parent's send fails


def test_a_worker_error_in_the_command_is_a_message_and_exit_1(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not FORK:
        pytest.skip("the patched method reaches workers by fork")
    monkeypatch.setattr(Partition, "add", _fail)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(raw + b"\n" for _, raw in lines(40)))
    assert main(["replay", "--rules", str(SAMPLE), "--events", str(path), "--workers", "2"]) == 1
    assert "whistle replay: replay worker" in capsys.readouterr().err
