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


# --- --output, shared by report and points (engine/commands/common.write_output) -------------


class Unwritable(Exception):
    pass


def test_output_goes_to_stdout_when_no_file_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.commands.common import write_output

    write_output("网格,1\n", None, "csv", Unwritable, "1 row")
    out, err = capsys.readouterr()
    assert out == "网格,1\n" and err == ""  # no byte order mark on a terminal


def test_output_to_a_file_csv_with_a_byte_order_mark_and_a_summary_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.commands.common import write_output

    write_output("网格,1\n", tmp_path / "r.csv", "csv", Unwritable, "1 row")
    assert (tmp_path / "r.csv").read_bytes() == "\ufeff网格,1\n".encode()
    write_output("网格\n", tmp_path / "r.txt", "table", Unwritable, "1 row")
    assert (tmp_path / "r.txt").read_bytes() == "网格\n".encode()
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"wrote {tmp_path / 'r.csv'}: 1 row",
                                f"wrote {tmp_path / 'r.txt'}: 1 row"]


def test_an_unwritable_output_raises_the_command_s_error_naming_the_file(tmp_path: Path) -> None:
    from engine.commands.common import write_output

    target = tmp_path / "missing" / "r.csv"
    with pytest.raises(Unwritable, match=r"--output .*missing/r\.csv: No such file or directory"):
        write_output("x\n", target, "csv", Unwritable, "1 row")
    assert not target.exists()


def test_points_writes_its_table_to_output(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "none.jsonl"
    events.write_text("", encoding="utf-8")
    assert main(["points", "--events", str(events), "--format", "csv",
                 "--output", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert f"wrote {tmp_path / 'p.csv'}: 0 person(s)" in capsys.readouterr().err
