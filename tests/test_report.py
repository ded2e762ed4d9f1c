"""``whistle report``: the exact figures of hand-made closures with known answers, rounding,
periods, the readers, the table, the CSV round trip and the command line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.report.csvout import columns, render_csv
from engine.report.figures import TOTAL, Assessment, Rate, assess
from engine.report.names import Names
from engine.report.period import ReportInputError, parse_period
from engine.report.readers import read_jsonl
from engine.report.text import render_table, width

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 1, tzinfo=CST)
END = datetime(2026, 12, 1, tzinfo=CST)
INSIDE = datetime(2026, 11, 15, 10, 0, tzinfo=CST)


def closed(issue: str, at: datetime = INSIDE, *, street: str = "dongting",
           outcome: str = "resolved", satisfied: bool | None = True, level: str = "grid",
           on_time: bool = True, whistles: int = 0,
           reports: tuple[tuple[str, str | None], ...] = (), event_id: str | None = None,
           sequence: int = 5) -> dict[str, Any]:
    """An ``issue.closed`` CloudEvent as a consumer decodes it from JSON."""
    raised = at - timedelta(days=2)
    return {
        "specversion": "1.0", "id": event_id or f"{issue}-closed-{sequence}",
        "source": "whistle/engine", "type": "issue.closed", "subject": issue,
        "time": at.isoformat(), "datacontenttype": "application/json",
        "data": {
            "sequence": sequence, "outcome": outcome, "satisfied": satisfied,
            "closed_level": level, "closed_units": [f"{street}-unit"],
            "raised_at": raised.isoformat(), "closed_at": at.isoformat(),
            "path": [{"level": level, "units": [f"{street}-unit"], "entered_at": raised.isoformat(),
                      "left_at": at.isoformat(), "reason": "raised"}],
            "reports": [{"department": d, "due": raised.isoformat(), "outcome": o,
                         "reported_at": None if o in (None, "missed") else raised.isoformat()}
                        for d, o in reports],
            "breaches": 0 if on_time else 1, "on_time": on_time, "street": street,
            "village": f"{street}-c01", "grid": f"{street}-c01-g1", "category": "noise",
            "severity": "normal", "whistles": whistles, "reopens": 0, "rule": "r",
            "rules_version": "v1",
        },
    }


A = closed("XS-A", satisfied=True, level="grid")
B = closed("XS-B", satisfied=False, level="department", on_time=False, whistles=2,
           reports=(("urban_management", "on_time"), ("housing", "late")))
C = closed("XS-C", outcome="withdrawn", satisfied=None, level="department", on_time=False,
           reports=(("housing", "missed"),))
D = closed("XS-D", street="anzhen", satisfied=None, level="village", whistles=1)
MIXED = [
    A, B, C, D,
    B,  # redelivered: same id
    closed("XS-A", event_id="XS-A-other", sequence=3, level="street"),  # same issue, older state
    closed("XS-F", datetime(2026, 12, 1, tzinfo=CST), street="anzhen"),  # at the end: out
    closed("XS-G", datetime(2026, 10, 31, 23, 59, 59, tzinfo=CST)),  # before the start: out
    closed("XS-H", datetime(2026, 10, 31, 16, 0, tzinfo=UTC), street="anzhen"),  # = start: in
]

# street row: closed, resolved, withdrawn, whistled, resolved_locally, resolved_on_time, rated,
# satisfied; department row: assigned, on_time, late, missed
CASES: list[tuple[str, list[dict[str, Any]], dict[str, tuple[int, ...]],
                  dict[str, tuple[int, ...]], tuple[int, int, int]]] = [
    ("empty", [], {}, {TOTAL: (0, 0, 0, 0, 0, 0, 0, 0)}, (0, 0, 0)),
    ("resolved at the grid, satisfied", [A], {},
     {"dongting": (1, 1, 0, 0, 1, 1, 1, 1)}, (1, 0, 0)),
    ("withdrawn: not resolved, unrated, its report missed", [C], {"housing": (1, 0, 0, 1)},
     {"dongting": (1, 0, 1, 0, 0, 0, 0, 0)}, (1, 0, 0)),
    ("department reports on time and late, unsatisfied", [B],
     {"urban_management": (1, 1, 0, 0), "housing": (1, 0, 1, 0)},
     {"dongting": (1, 1, 0, 1, 0, 0, 1, 0)}, (1, 0, 0)),
    ("resolved at a village, whistled, unrated", [D], {},
     {"anzhen": (1, 1, 0, 1, 1, 1, 0, 0)}, (1, 0, 0)),
    ("a report never settled counts as missed",
     [closed("XS-N", reports=(("water", None), ("water", "on_time")))], {"water": (2, 1, 0, 1)},
     {"dongting": (1, 1, 0, 0, 1, 1, 1, 1)}, (1, 0, 0)),
    ("a redelivered event counts once", [A, A, A], {},
     {"dongting": (1, 1, 0, 0, 1, 1, 1, 1)}, (1, 2, 0)),
    ("a second closure of one issue: the later state wins",
     [closed("XS-A", level="street", sequence=9, event_id="late"), A], {},
     {"dongting": (1, 1, 0, 0, 0, 1, 1, 1)}, (1, 1, 0)),
    ("mixed", MIXED,
     {"urban_management": (1, 1, 0, 0), "housing": (2, 0, 1, 1), TOTAL: (3, 1, 1, 1)},
     {"dongting": (3, 2, 1, 1, 1, 1, 2, 1), "anzhen": (2, 2, 0, 1, 2, 2, 1, 1),
      TOTAL: (5, 4, 1, 2, 3, 3, 3, 2)}, (5, 2, 2)),
]


def street_row(a: Assessment, street: str) -> tuple[int, ...]:
    s = a.district if street == TOTAL else next(x for x in a.streets if x.street == street)
    return (s.closed, s.resolved, s.withdrawn, s.whistled, s.resolved_locally,
            s.resolved_on_time, s.rated, s.satisfied)


def dept_row(a: Assessment, dept: str) -> tuple[int, ...]:
    d = a.department_total if dept == TOTAL else next(
        x for x in a.departments if x.department == dept)
    return d.assigned, d.on_time, d.late, d.missed


@pytest.mark.parametrize(("events", "depts", "streets", "totals"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_assess_known_answers(events: list[dict[str, Any]], depts: dict[str, tuple[int, ...]],
                              streets: dict[str, tuple[int, ...]],
                              totals: tuple[int, int, int]) -> None:
    a = assess(events, START, END)
    assert (a.issues, a.duplicates, a.outside) == totals
    for dept, row in depts.items():
        assert dept_row(a, dept) == row, dept
    for street, row in streets.items():
        assert street_row(a, street) == row, street
    assert {d.department for d in a.departments} == set(depts) - {TOTAL}
    assert {s.street for s in a.streets} == set(streets) - {TOTAL}


def test_mixed_rates_are_exact_fractions() -> None:
    a = assess(MIXED, START, END)
    assert a.department_total.report_rate.value == Fraction(1, 3)
    assert str(a.department_total.report_rate) == "33.3% (1/3)"
    d = a.district
    assert (d.whistle_rate.value, d.local_resolution_rate.value, d.on_time_rate.value,
            d.satisfaction_rate.value) == (Fraction(2, 5), Fraction(3, 4), Fraction(3, 4),
                                           Fraction(2, 3))
    housing = next(x for x in a.departments if x.department == "housing")
    assert housing.report_rate.percent() == "0.0%"


def test_rows_for_every_given_id_in_order_then_the_others_sorted() -> None:
    a = assess([B, D], START, END, departments=["water", "housing"], streets=["yangjian"])
    assert [x.department for x in a.departments] == ["water", "housing", "urban_management"]
    assert [x.street for x in a.streets] == ["yangjian", "anzhen", "dongting"]
    assert a.departments[0].report_rate.value is None
    assert a.departments[0].report_rate.percent() == "—"


@pytest.mark.parametrize(("num", "den", "text"), [
    (7, 8, "87.5%"), (1, 3, "33.3%"), (2, 3, "66.7%"), (1, 16, "6.3%"), (3, 16, "18.8%"),
    (0, 5, "0.0%"), (5, 5, "100.0%"), (1, 2000, "0.1%"), (1, 2001, "0.0%"), (0, 0, "—"),
])
def test_percent_one_decimal_halves_up(num: int, den: int, text: str) -> None:
    assert Rate(num, den).percent() == text


def test_assess_refuses_bad_periods_and_bad_events() -> None:
    with pytest.raises(ValueError, match="empty period"):
        assess([], END, START)
    with pytest.raises(ValueError, match="time zone"):
        assess([], datetime(2026, 11, 1), END)  # noqa: DTZ001
    bad = closed("XS-X")
    del bad["data"]["street"]
    with pytest.raises(ValueError, match=r"data\.street"):
        assess([bad], START, END)


def test_period_dates_are_shanghai_midnight_and_rfc3339_is_kept() -> None:
    start, end = parse_period("2026-11-01", "2026-12-01T00:00:00Z")
    assert start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 1, tzinfo=UTC)
    for a, b, msg in [("2026-11-31", "2026-12-01", "--from"), ("2026-11-01", "soon", "--to"),
                      ("2026-11-01T00:00:00", "2026-12-01", "offset"),
                      ("2026-12-01", "2026-11-01", "must be after")]:
        with pytest.raises(ReportInputError, match=msg):
            parse_period(a, b)


def write_jsonl(path: Path, events: list[dict[str, Any]], extra: str = "") -> Path:
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n\n" + extra,
                    encoding="utf-8")
    return path


def test_jsonl_skips_blank_lines_and_passes_over_other_engine_events(tmp_path: Path) -> None:
    other = {**A, "type": "issue.assigned", "id": "x"}
    got = read_jsonl(write_jsonl(tmp_path / "c.jsonl", [A, other, B]))
    assert [e.subject for e in got.events] == ["XS-A", "XS-B"] and got.other == 1


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "c.jsonl:3: not JSON"),
    ("[1, 2]", "c.jsonl:3: not a CloudEvent"),
    (json.dumps({**A, "type": "issue.raised"}), "c.jsonl:3: not an issue.closed CloudEvent"),
    (json.dumps({**A, "data": {**A["data"], "satisfied": "yes"}}), "c.jsonl:3: .*satisfied"),
])
def test_a_malformed_line_is_an_error_with_its_number(tmp_path: Path, line: str,
                                                      message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(A) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match=message):
        read_jsonl(path)


def test_cjk_width_and_aligned_table() -> None:
    assert width("东亭街道") == 8 and width("anzhen") == 6 and width("锡山区 A") == 8
    names = Names(streets={"dongting": "东亭街道"}, departments={"housing": "区住房和城乡建设局"})
    text = render_table(assess(MIXED, START, END), names)
    lines = text.splitlines()
    header = next(i for i, x in enumerate(lines) if x.startswith("street "))
    block = lines[header:header + 5]  # header, rule, anzhen (ASCII), dongting (CJK), total
    assert block[2].startswith("anzhen") and block[3].startswith("东亭街道")
    assert len({width(x) for x in block}) == 1  # every line ends in the same column
    assert "66.7% (2/3)" in block[4] and "区住房和城乡建设局" in text


def test_csv_round_trip_keeps_every_count_and_fraction() -> None:
    a = assess(MIXED, START, END)
    rows = list(csv.DictReader(io.StringIO(render_csv(a, Names(streets={"anzhen": "安镇街道"})))))
    assert list(rows[0]) == columns()
    depts = {r["id"]: r for r in rows if r["section"] == "department"}
    streets = {r["id"]: r for r in rows if r["section"] == "street"}
    assert set(depts) == {"housing", "urban_management", TOTAL}
    assert set(streets) == {"anzhen", "dongting", TOTAL} and streets["anzhen"]["name"] == "安镇街道"
    for key, r in depts.items():
        assert tuple(int(r[c]) for c in ("assigned", "on_time", "late", "missed")) == \
            dept_row(a, key)
        assigned, on_time = dept_row(a, key)[:2]
        read = Rate(int(r["report_rate_numerator"]), int(r["report_rate_denominator"]))
        assert read.value == Fraction(on_time, assigned)
        assert r["report_rate"] == read.percent()
    for key, r in streets.items():
        counts = ("closed", "resolved", "withdrawn", "whistled", "resolved_locally",
                  "resolved_on_time", "rated", "satisfied")
        assert tuple(int(r[c]) for c in counts) == street_row(a, key)
        s = a.district if key == TOTAL else next(x for x in a.streets if x.street == key)
        for name in ("whistle_rate", "local_resolution_rate", "on_time_rate",
                     "satisfaction_rate"):
            rate: Rate = getattr(s, name)
            assert (int(r[f"{name}_numerator"]), int(r[f"{name}_denominator"])) == \
                (rate.numerator, rate.denominator)
            assert r[name] == (rate.percent() if rate.denominator else "")
        assert r["report_rate"] == r["assigned"] == ""


def test_cli_table_csv_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write_jsonl(tmp_path / "c.jsonl", MIXED)
    base = ["report", "--from", "2026-11-01", "--to", "2026-12-01", "--events", str(events)]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "东亭街道" in out and "区住房和城乡建设局" in out and "33.3% (1/3)" in out
    assert "5 issue(s) closed in the period; 2 duplicate event(s)" in out
    assert main([*base, "--format", "csv", "--output", str(tmp_path / "r.csv")]) == 0
    raw = (tmp_path / "r.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfsection,id,name,")
    assert main([*base, "--format", "html", "--output", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "http" not in page.lower()


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-11-1", "--to", "2026-12-01"], "--from '2026-11-1': expected YYYY-MM-DD"),
    (["--from", "2026-12-01", "--to", "2026-11-01"], "must be after"),
    (["--from", "2026-11-01", "--to", "2026-12-01", "--events", "/nonexistent.jsonl"],
     "/nonexistent.jsonl: No such file"),
    (["--from", "2026-11-01", "--to", "2026-12-01", "--rules", "/nonexistent"],
     "--rules /nonexistent: not a directory"),
    (["--from", "2026-11-01", "--to", "2026-12-01"], "no events: --events"),
])
def test_cli_bad_input_exits_1_with_a_clear_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WHISTLE_BROKER", raising=False)
    monkeypatch.delenv("WHISTLE_RULES", raising=False)
    assert main(["report", *args]) == 1
    assert message in capsys.readouterr().err


def test_cli_malformed_line_names_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    events = write_jsonl(tmp_path / "c.jsonl", [A, B], extra="{oops\n")
    assert main(["report", "--from", "2026-11-01", "--to", "2026-12-01",
                 "--events", str(events)]) == 1
    assert f"{events}:4: not JSON" in capsys.readouterr().err


def test_an_unreachable_broker_is_a_clear_error() -> None:
    from engine.agents.broker import free_port
    from engine.report.readers import read_broker

    url = f"127.0.0.1:{free_port()}"
    with pytest.raises(ReportInputError, match=f"broker {url}: .*bootstrap"):
        read_broker({"bootstrap_servers": [url]}, "issues.closed", connect_seconds=1)
