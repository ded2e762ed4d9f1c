"""The one JSONL reader and the one renderer of engine events (``engine.streams``)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.streams import jsonl, render

ASSIGNED = {"id": "O1:1:0", "type": "issue.assigned", "subject": "O1",
            "time": "2026-11-23T01:00:00+00:00",
            "data": {"level": "grid", "units": ["jinan-g1"], "resolve_by":
                     "2026-11-23T05:00:00+00:00", "reason": "raised", "rule": "default",
                     "rules_version": "v1"}}


def test_lines_skip_blanks_and_keep_their_numbers(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_bytes(b'{"a": 1}\n\n  \n{"b": 2}  \n')
    assert list(jsonl.lines(f)) == [(1, b'{"a": 1}'), (4, b'{"b": 2}')]
    f.write_bytes(b'{"a": 1}\nnot json\n')
    with pytest.raises(ValueError, match=f"{f}:2: "):
        jsonl.documents(f)


def test_a_missing_file_fails_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        jsonl.lines(tmp_path / "missing.jsonl")


def test_one_line_per_record() -> None:
    line = render.line(json.dumps(ASSIGNED).encode())
    assert line.startswith("2026-11-23 09:00:00 issue.assigned O1: assigned to grid jinan-g1: ")
    assert "resolve by 2026-11-23 13:00:00 (reason raised, rule default @ v1)" in line
    rejected = {"reason": "invalid_json", "detail": "line 1", "topic": "issues.events"}
    assert render.line(json.dumps(rejected).encode()) == "REJECTED invalid_json: line 1"
    assert render.line(b"\xffnot json") == "\ufffdnot json"
    assert render.describe(ASSIGNED, ZoneInfo("UTC")).endswith("@ v1)")


def test_claims_and_points_read_as_sentences() -> None:
    from zoneinfo import ZoneInfo

    from tests.people import PM, RIDER, Issue

    i = Issue()
    i.raise_(reporter=RIDER)
    i.fact("acknowledged", 2, unit="jinan-g1")
    i.fact("claimed", 3, claimant=PM)
    i.fact("claimed", 4, claimant={"kind": "volunteer", "id": "v-1"})
    i.fact("progressed", 60, unit="jinan-g1", claimant=PM)
    i.fact("resolved", 100, unit="jinan-g1", claimant=PM)
    i.fact("rated", 110, satisfied=False)
    tz = ZoneInfo("Asia/Shanghai")
    said = [render.describe(json.loads(e.model_dump_json()), tz) for e in i.emitted()]
    assert "claim of volunteer v-1 expired at 2026-11-23 10:34:00 (no act since " \
           "2026-11-23 09:04:00)" in said
    assert "5 points awarded to rider rd-0003 (rule rider)" in said
    assert "5 points reversed (reopened) for rider rd-0003 (rule rider)" in said
