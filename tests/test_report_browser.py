"""The HTML report in a real browser: Debian's headless chromium renders a known scenario; the
rendered DOM must show the expected figures, and a screenshot is kept in build/.

Without chromium the test is skipped, except under CI (``CI`` set), where it fails: install it
with ``scripts/install-system-deps.sh`` (as root).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from engine.agents.settings import SAMPLE_RULES
from engine.report.figures import assess, dedupe
from engine.report.html import render_html
from engine.report.names import Names, load_names
from engine.report.rates import assess_rates
from tests.test_report import END, START, A, B, C, D, closed
from tests.test_report_rates import overdue, read

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "build" / "report-screenshot.png"
CST = timezone(timedelta(hours=8))

KNOWN = [
    A, B, C, D, B,
    closed("XS-E", level="grid"),
    closed("XS-F2", street="anzhen", level="street", on_time=False, whistles=1),
    closed("XS-Y", street="yangjian", level="department", whistles=1,
           reports=(("traffic_police", "on_time"), ("urban_management", "on_time"))),
    closed("XS-Z", datetime(2026, 12, 2, tzinfo=CST), street="yangjian"),  # out of period
]
EXPECTED_ROWS = {
    ("department", "urban_management"): ["区城市管理局", "2", "2", "0", "0", "100.0% 2/2"],
    ("department", "housing"): ["区住房和城乡建设局", "2", "0", "1", "1", "0.0% 0/2"],
    ("department", "traffic_police"): ["区公安分局交警大队", "1", "1", "0", "0", "100.0% 1/1"],
    ("department", "*"): ["全部部门 all departments", "5", "3", "1", "1", "60.0% 3/5"],
    ("street", "dongting"): ["东亭街道", "4", "3", "1", "25.0% 1/4", "66.7% 2/3", "66.7% 2/3",
                             "66.7% 2/3"],
    ("street", "anzhen"): ["安镇街道", "2", "2", "0", "100.0% 2/2", "50.0% 1/2", "50.0% 1/2",
                           "100.0% 1/1"],
    ("street", "yangjian"): ["羊尖镇", "1", "1", "0", "100.0% 1/1", "0.0% 0/1", "100.0% 1/1",
                             "100.0% 1/1"],
    ("street", "*"): ["全区合计 district", "7", "6", "1", "57.1% 4/7", "50.0% 3/6", "66.7% 4/6",
                      "80.0% 4/5"],
}


# the three rates: an open issue overdue at a grid of 东亭 and one at 区水利局; housing's late
# report on XS-B (closed since) counts once, when it was missed
LIFECYCLE = [overdue("XS-OPEN1", "respond", "dongting-c01-g1", "grid"),
             overdue("XS-OPEN2", "resolve", "water", "department"),
             overdue("XS-B", "report", "housing", "department")]
EXPECTED_RATE_ROWS = {
    # unit, response rate, open overdue, resolution rate, open overdue, satisfaction, unrated
    ("rates-department", "housing"): ["区住房和城乡建设局", "0.0% 0/2", "0", "—", "0", "—", "0"],
    ("rates-department", "water"): ["区水利局", "—", "0", "0.0% 0/1", "1", "0.0% 0/1", "0"],
    ("rates-department", "traffic_police"): ["区公安分局交警大队", "100.0% 1/1", "0", "—", "0",
                                             "—", "0"],
    ("rates-street", "dongting"): ["东亭街道", "0.0% 0/1", "1", "100.0% 2/2", "0", "100.0% 2/2",
                                   "0"],
    ("rates-street", "anzhen"): ["安镇街道", "—", "0", "100.0% 2/2", "0", "100.0% 1/1", "1"],
    ("rates-street", "*"): ["全区合计 district", "0.0% 0/1", "1", "100.0% 4/4", "0",
                            "100.0% 3/3", "1"],
    ("rates-department", "*"): ["全部部门 all departments", "60.0% 3/5", "0", "66.7% 2/3", "1",
                                "33.3% 1/3", "0"],
}


def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    reason = "chromium is not installed: run scripts/install-system-deps.sh as root"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="whistle-chromium-") as profile:
        return subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )


class Rows(HTMLParser):
    """Cell texts of every ``tr[data-section][data-id]``, and the attributes of the bars."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], list[str]] = {}
        self.bars: list[dict[str, Any]] = []
        self.ids: dict[str, str] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-section" in a:
            self._row = self.rows.setdefault((a["data-section"] or "", a["data-id"] or ""), [])
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "rect" and a.get("class") == "bar":
            self.bars.append(a)
        if a.get("id"):
            self._id = a["id"]
            self.ids[self._id or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "p":
            self._id = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._id is not None:
            self.ids[self._id] += data


def test_the_report_renders_in_chromium_with_the_expected_figures(tmp_path: Path) -> None:
    names = load_names(SAMPLE_RULES)
    a = assess(KNOWN, START, END)
    rates = assess_rates(dedupe(KNOWN)[0], [read(e) for e in LIFECYCLE], START, END,
                         departments=list(names.departments), streets=list(names.streets),
                         territory=names.territory)
    page = tmp_path / "report.html"
    page.write_text(render_html(a, names, generated_at=datetime(2026, 12, 1, 9, 0, tzinfo=CST),
                                rates=rates), encoding="utf-8")

    dumped = run_chromium("--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = Rows()
    dom.feed(dumped.stdout)
    assert {k: v for k, v in dom.rows.items() if not k[0].startswith("rates-")} == EXPECTED_ROWS
    for key, cells in EXPECTED_RATE_ROWS.items():
        assert dom.rows[key] == cells, key
    assert "3 lifecycle event(s) read" in dom.ids["rates-counts"]
    assert sum(k[0] == "rates-street" for k in dom.rows) == len(names.streets) + 1
    assert "2026-11-01T00:00+08:00 to 2026-12-01T00:00+08:00" in dom.ids["period"]
    assert "2026-12-01T09:00:00+08:00" in dom.ids["generated"]
    assert "7 issue(s) closed in the period; 1 duplicate event(s) skipped; 1 issue(s)" \
        in dom.ids["counts"]
    widths = {(b["data-id"], b["fill"]): float(b["width"]) for b in dom.bars}
    assert widths[("housing", "#6b46c1")] == 0.0
    assert widths[("urban_management", "#6b46c1")] == widths[("traffic_police", "#6b46c1")] > 0
    # anzhen: local 1/2, on time 1/2, satisfied 1/1 -> bars of half, half and full length
    local, on_time, satisfied = (widths[("anzhen", c)] for c in ("#2f855a", "#2b6cb0", "#c05621"))
    assert local == on_time == pytest.approx(satisfied / 2, abs=0.1)
    # the three rates' bars: 东亭 responded 0/1, resolved 2/2; 区水利局 satisfied 0/1
    assert widths[("street:dongting", "#805ad5")] == 0.0
    assert widths[("street:dongting", "#3182ce")] == widths[("street:anzhen", "#3182ce")] > 0
    assert widths[("department:water", "#dd6b20")] == 0.0

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = run_chromium(f"--screenshot={SCREENSHOT}", "--window-size=1280,2000",
                        "--hide-scrollbars", page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 2000)
    assert len(png) > 20_000  # rendered content, not a blank page


def test_the_workflow_moves_render_in_chromium_with_the_expected_figures(tmp_path: Path
                                                                          ) -> None:
    """The hand-made closures of tests/test_report_moves.py: every figure there, in the DOM."""
    from tests.test_report_moves import C1, C2, C3, DEPARTMENTS, hand_moves

    names = Names(departments={"traffic_police": "区交警大队", "housing": "区住建局",
                               "urban_management": "区城管局"},
                  streets={"dongting": "东亭街道", "anzhen": "安镇街道"})
    a = assess([C1, C2, C3], START, END, departments=DEPARTMENTS,
               streets=("dongting", "anzhen"))
    page = tmp_path / "moves.html"
    page.write_text(render_html(a, names, generated_at=datetime(2026, 12, 1, 9, 0, tzinfo=CST),
                                moves=hand_moves()), encoding="utf-8")
    dumped = run_chromium("--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = Rows()
    dom.feed(dumped.stdout)
    assert dom.rows[("returns-department", "traffic_police")] == [
        "区交警大队", "3", "0", "2", "1", "66.7% 2/3"]
    assert dom.rows[("returns-department", "*")] == [
        "全部部门 all departments", "4", "1", "2", "1", "50.0% 2/4"]
    assert dom.rows[("extensions-department", "housing")] == [
        "区住建局", "3", "3", "0", "0", "2", "66.7% 2/3"]
    assert dom.rows[("extensions-department", "urban_management")] == [
        "区城管局", "1", "0", "1", "0", "0", "—"]
    assert dom.rows[("urgings-department", "traffic_police")] == [
        "区交警大队", "3", "1", "1", "1", "1"]
    assert dom.rows[("urgings-street", "dongting")] == ["东亭街道", "1", "1", "0", "0", "0"]
    assert dom.rows[("parking-department", "housing")] == [
        "区住建局", "1", "2", "1d 03:00", "1d 00:00", "1"]
    assert dom.rows[("parking-street", "*")] == [
        "全区合计 district", "2", "2", "2d 05:00", "2d 00:00", "1"]
    assert sum(k[0] == "parking-street" for k in dom.rows) == 3
    assert "7 urging and review event(s) read" in dom.ids["moves-counts"]
    assert "Invalid-return rate" in dumped.stdout and 'id="moves-legend"' in dumped.stdout
    widths = {b["data-id"]: float(b["width"]) for b in dom.bars}
    # traffic police: invalid returns 2/3; housing: overdue after extension 2/3, returns 0/1
    invalid = widths["department:traffic_police:invalid_return_rate"]
    assert invalid > 0 and invalid == pytest.approx(
        widths["department:housing:overdue_after_extension_rate"])
    assert widths["department:housing:invalid_return_rate"] == 0.0
