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
