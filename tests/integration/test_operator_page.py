"""The operator page in headless chromium against a running worker with real traffic: the DOM
shows the registry's Chinese names, the open and overdue counts the API gives, overdue issues
first, the report rate today and this month equal to ``assess`` over the closures on
``issues.closed``, and the recent events; the page's script refreshes it. A screenshot is kept
in build/operator-page.png.

Chromium is polled (the page is dumped again until the conditions hold or time runs out):
nothing sleeps and then asserts.
"""

from __future__ import annotations

import struct
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.report.figures import TOTAL, assess
from engine.web.feed import RECENT, day_of, month_of
from tests.integration.conftest import ROOT, Lane
from tests.integration.test_web_api import every
from tests.test_report_browser import Rows, run_chromium

pytestmark = pytest.mark.integration

SCREENSHOT = ROOT / "build" / "operator-page.png"


class Page(Rows):
    """Rows by (section, id), and every row's attributes in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[dict[str, str | None]] = []
        self.body: dict[str, str | None] = {}
        self.items: dict[str, str] = {}
        self._li: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if "data-section" in a:
            self.order.append(a)
        if tag == "li" and a.get("data-section") == "event":
            self._li = str(a.get("data-event"))
            self.items[self._li] = ""
        if tag == "b" and a.get("id"):
            self._id = a["id"]
            self.ids[self._id or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        super().handle_endtag(tag)
        if tag == "li":
            self._li = None
        if tag == "b":
            self._id = None

    def handle_data(self, data: str) -> None:
        super().handle_data(data)
        if self._li is not None:
            self.items[self._li] += data


def story(lane: Lane) -> tuple[list[str], list[str], list[str]]:
    """Issues on every path the page shows: closed with a report on time, closed with a
    report missed, overdue at the departments, open at a grid."""
    t = datetime.now(UTC)
    closed = ["OP-C1", "OP-C2"]
    for n, issue in enumerate(closed):
        at = t + timedelta(milliseconds=10 * n)
        lane.send("raised", issue, at, grid="jinan-g1", category="noise", title="噪声")
        for k, unit in enumerate(("jinan-g1", "jinan", "dongting")):
            lane.send("whistled", issue, at + timedelta(milliseconds=100 * (k + 1)), unit=unit)
        if issue == "OP-C1":
            lane.send("reported", issue, at + timedelta(milliseconds=500),
                      department="urban_management")
        lane.send("resolved", issue, at + timedelta(milliseconds=600), unit="urban_management")
        lane.send("rated", issue, at + timedelta(milliseconds=700), satisfied=True)
    overdue = [f"OP-P{i}" for i in range(3)]
    for issue in overdue:
        lane.send("raised", issue, grid="jinan-g2", category="illegal_parking", title="乱停车")
    calm = [f"OP-N{i}" for i in range(2)]
    for issue in calm:
        lane.send("raised", issue, grid="jinan-g1", category="noise", title="<b>噪声</b>")
    return closed, overdue, calm


def test_the_operator_page_shows_who_holds_what_in_chromium(lane: Lane) -> None:
    w = lane.worker("a")
    w.wait_ready()
    lane.listen()
    closed, overdue, calm = story(lane)
    for issue in closed:
        lane.wait(lambda issue=issue: lane.of(issue, "closed"), why=f"{issue} closed")
    for issue in overdue:
        lane.wait(lambda issue=issue: [e for e in lane.of(issue) if e["type"] == "issue.overdue"
                                       and e["data"]["level"] == "department"],
                  why=f"{issue} overdue at the departments")
    url = f"http://127.0.0.1:{w.port}/"
    problems: list[str] = ["never looked"]
    page = Page()
    deadline = time.monotonic() + 40  # the calm issues' limits are a minute
    while problems and time.monotonic() < deadline:
        dumped = run_chromium("--dump-dom", "--virtual-time-budget=12000", url)
        assert dumped.returncode == 0, dumped.stderr[-2000:]
        page = Page()
        page.feed(dumped.stdout)
        problems = check(page, lane, w, closed, overdue, calm)
    assert not problems, "\n".join(problems)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = run_chromium(f"--screenshot={SCREENSHOT}", "--window-size=1280,1600",
                        "--hide-scrollbars", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 1600)
    assert len(png) > 20_000  # rendered content, not a blank page


def check(page: Page, lane: Lane, w: Any, closed: list[str], overdue: list[str],
          calm: list[str]) -> list[str]:
    """What is wrong with the page now (nothing: an empty list)."""
    out = []
    api = every(w, limit=100, status="open")
    api_overdue = [i["id"] for i in api if i["overdue"]]
    if sorted(i["id"] for i in api) != sorted(overdue + calm):
        out.append(f"the API's open issues {[i['id'] for i in api]} are not {overdue + calm}")
    if sorted(api_overdue) != sorted(overdue):
        out.append(f"the API's overdue {api_overdue} are not {overdue}")
    if page.ids.get("open-count") != str(len(overdue + calm)):
        out.append(f"open count {page.ids.get('open-count')!r}")
    if page.ids.get("overdue-count") != str(len(overdue)):
        out.append(f"overdue count {page.ids.get('overdue-count')!r}")
    rows = [r for r in page.order if r.get("data-section") == "issue"]
    flags = [r.get("data-overdue") for r in rows]
    if flags != ["true"] * len(overdue) + ["false"] * len(calm):
        out.append(f"not overdue first: {flags}")
    if {r.get("data-id") for r in rows[:len(overdue)]} != set(overdue):
        out.append(f"overdue rows {[r.get('data-id') for r in rows]}")
    if page.rows.get(("street", "dongting"), [""])[0] != "东亭街道" or page.rows[
            ("street", "dongting")][1:] != [str(len(overdue + calm)), str(len(overdue))]:
        out.append(f"street row {page.rows.get(('street', 'dongting'))}")
    if page.rows.get(("unit", "traffic_police"), [""])[:3] != ["区交警大队", "3", "3"]:
        out.append(f"unit row traffic_police {page.rows.get(('unit', 'traffic_police'))}")
    if page.rows.get(("unit", "jinan-g1"), [""])[:3] != ["锦安社区第一网格", "2", "0"]:
        out.append(f"unit row jinan-g1 {page.rows.get(('unit', 'jinan-g1'))}")
    # the report rate: what assess says of the closures on issues.closed, today and this month
    now = datetime.now(UTC)
    closures = list(lane.out["closed"])
    departments = ["traffic_police", "urban_management", "housing"]
    today = assess(closures, *day_of(now), departments=departments)
    month = assess(closures, *month_of(now), departments=departments)

    def cells(d: Any) -> list[str]:
        r = d.report_rate
        return [str(d.assigned), str(d.on_time), str(d.late), str(d.missed),
                f"{r.percent()} {r.numerator}/{r.denominator}"]

    names = {"traffic_police": "区交警大队", "urban_management": "区城管局",
             "housing": "区住建局", TOTAL: "全部部门 all departments"}
    for t, m in zip([*today.departments, today.department_total],
                    [*month.departments, month.department_total], strict=True):
        want = [names[m.department], *cells(t), *cells(m)]
        got = page.rows.get(("report", m.department))
        if got != want:
            out.append(f"report row {m.department}: {got} != {want}")
    um = month.departments[1]
    if (um.assigned, um.on_time, um.missed) != (2, 1, 1):
        out.append(f"the closures say urban_management {um}, not 2 due, 1 on time, 1 missed")
    # recent events: real ones, as many as kept, the last of each overdue issue among them
    events = {e["id"]: e for e in list(lane.out["lifecycle"])}
    if not set(page.items) <= set(events):
        out.append(f"events on the page that are not on issues.lifecycle: "
                   f"{set(page.items) - set(events)}")
    if len(page.items) != min(RECENT, len(events)):
        out.append(f"{len(page.items)} recent events, not {min(RECENT, len(events))}")
    for issue in overdue:
        last = lane.of(issue)[-1]["id"]
        if last not in page.items:
            out.append(f"the last event of {issue} ({last}) is not among the recent events")
    if any("<b>" in text for text in page.items.values()):
        out.append("markup from an event in the events list")
    if int(page.body.get("data-refreshes") or 0) < 1:
        out.append(f"the page's script did not refresh it: {page.body}")
    return out
