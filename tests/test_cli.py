"""The command line: exit codes and what operators read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "engine" / "sample" / "xishan"
EVENT = ROOT / "engine" / "sample" / "events" / "parking-before-national-day.json"


def test_rules_check_passes_on_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and "127 villages" in out and "13 departments" in out


def test_rules_check_lists_every_error_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    broken = ROOT / "tests" / "testdata" / "rules" / "many_errors"
    assert main(["rules", "check", str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 10 and all(":" in line for line in lines)


def test_explain_shows_the_holiday_and_the_make_up_saturday(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rules", "explain", str(SAMPLE), "--event", str(EVENT), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rule"]["id"] == "parking-and-garbage"
    grid, _village, street, dept = report["ladder"]
    # raised Wed 30 Sep 16:30: 4 working hours = 1 h that day + 3 h on Thu 8 Oct (after 1-7 Oct)
    assert grid["resolve_by"] == "2026-10-08T04:00:00+00:00"
    # the street's 2 working days from Fri 9 Oct 13:30 count Saturday 10 Oct (调休 make-up day)
    assert street["from"] == "2026-10-09T05:30:00+00:00"
    assert street["resolve_by"] == "2026-10-12T05:30:00+00:00"
    assert dept["level"] == "department" and dept["lead"] == "traffic_police"


def test_explain_warns_when_deadlines_pass_the_calendar_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["rules", "explain", str(SAMPLE), "--event", str(EVENT),
                 "--at", "2026-12-30T16:00:00+08:00"])
    out = capsys.readouterr().out
    assert code == 0 and "WARNING: calendar office" in out and "past its known holiday data" in out


def test_explain_refuses_a_bad_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"specversion": "1.0"}')
    assert main(["rules", "explain", str(SAMPLE), "--event", str(bad)]) == 1
    assert "not_cloudevent" in capsys.readouterr().err


def test_show_json_lists_registry_and_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", str(SAMPLE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["org"]["streets"]) == 10
    assert sum(len(s["villages"]) for s in data["org"]["streets"]) == 127
    assert [r["id"] for r in data["rules"]][-1] == "default"
