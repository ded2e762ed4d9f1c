"""The operator page: server-rendered HTML (every value escaped), refreshed by a small script
that fetches the page's main part again (``/?part=main``) every few seconds. No build step, no
scripts or fonts from elsewhere.

What it shows, and from where (the page says so too):

- open issues (status ``open``) by street and by holding unit, overdue first, from every
  worker's table (``/api/issues``, so exactly what the API answers);
- the report rate (报到率) by department for today and this month, from ``issues.closed``
  (``engine.web.feed``: the closures of the period, as ``whistle report`` counts them);
- the recent lifecycle events, from ``issues.lifecycle``, in the words of ``whistle tail``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from engine.report.figures import TOTAL, Assessment, DepartmentFigures
from engine.streams.render import describe
from engine.web.feed import Figures
from engine.web.models import Issue

TZ = ZoneInfo("Asia/Shanghai")
SHOWN = 100  # open issues listed (the counts cover them all)
REFRESH_SECONDS = 5

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","PingFang SC","Microsoft YaHei",
 system-ui,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#1a202c}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.6rem;
 border-bottom:2px solid #e2e8f0;padding-bottom:.3rem}
.meta,.note{color:#4a5568;font-size:.85rem;margin:.2rem 0}
.tiles{display:flex;gap:.8rem;margin:1rem 0}.tile{border:1px solid #e2e8f0;border-radius:6px;
 padding:.5rem .9rem;min-width:9rem}.tile b{display:block;font-size:1.5rem}
.tile span{color:#4a5568;font-size:.85rem}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin-top:.5rem}
th,td{padding:.25rem .5rem;border-bottom:1px solid #e2e8f0;text-align:left;white-space:nowrap}
td.n,th.n{text-align:right}th{background:#f7fafc}
tr[data-overdue=true] td{background:#fff5f5}tr[data-overdue=true] td:first-child{
 border-left:4px solid #c53030}.late{color:#c53030;font-weight:bold}
tr.total td{font-weight:bold;border-top:2px solid #a0aec0}
.error{background:#fffaf0;border:1px solid #dd6b20;padding:.5rem;border-radius:4px}
ol.events{font-size:.85rem;padding-left:1.2rem}ol.events li{margin:.15rem 0}
code{font-size:.85rem}
"""

SCRIPT = """
(function () {
  var main = document.getElementById("main"), stamp = document.getElementById("refreshed");
  function refresh() {
    fetch("/?part=main", {cache: "no-store"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (html) {
      main.innerHTML = html;  // the server's HTML, every value escaped there
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
      stamp.textContent = "refreshed " + new Date().toLocaleTimeString();
    }).catch(function (e) { stamp.textContent = "refresh failed: " + e.message; });
  }
  setInterval(refresh, REFRESH_MS);
})();
""".replace("REFRESH_MS", str(REFRESH_SECONDS * 1000))


@dataclass(frozen=True)
class View:
    """Everything one rendering shows."""

    as_of: datetime
    open_issues: Sequence[Issue] | None  # None: not every partition answered
    problem: str  # why not, if so
    truncated: bool  # more open issues than were read
    figures: Figures
    recent: Sequence[dict[str, Any]]
    name: Callable[[str], str]  # a unit, street or department id -> its registry name
    worker: str


def e(value: object) -> str:
    return escape(str(value), quote=True)


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(TZ).strftime("%m-%d %H:%M:%S")


def overdue_first(issues: Sequence[Issue]) -> list[Issue]:
    """Overdue ones first (longest overdue first), then by street, unit and next due time."""
    def key(i: Issue) -> tuple[Any, ...]:
        if i.missed:
            return (0, i.missed[0].due, i.street, i.units, i.id)
        nxt = min((limit.due for limit in i.limits if not limit.warning), default=i.resolve_by)
        return (1, i.street, i.units, nxt, i.id)
    return sorted(issues, key=key)


def render_page(view: View) -> str:
    return (
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<title>Whistle 吹哨报到 · operator</title>"
        f"<style>{CSS}</style></head><body data-refreshes=\"0\">"
        "<h1>Whistle 吹哨报到 · who holds what</h1>"
        f"<p class=\"meta\">Served by worker <code>{e(view.worker)}</code>; refreshes every "
        f"{REFRESH_SECONDS} s <span id=\"refreshed\"></span></p>"
        f"<main id=\"main\">{render_main(view)}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def render_main(view: View) -> str:
    parts = [f"<p class=\"meta\" id=\"as-of\">Engine clock {e(when(view.as_of))} "
             f"(Asia/Shanghai)</p>"]
    parts.append(_open_section(view))
    parts.append(_reports_section(view))
    parts.append(_events_section(view))
    return "".join(parts)


def _open_section(view: View) -> str:
    if view.open_issues is None:
        return ("<h2>Open issues</h2><p class=\"error\" id=\"open-problem\">Open issues are not "
                f"shown: {e(view.problem)}</p>")
    issues = overdue_first(view.open_issues)
    overdue = [i for i in issues if i.overdue]
    by_street = Counter(i.street for i in issues)
    late_street = Counter(i.street for i in overdue)
    by_unit = Counter(u for i in issues for u in i.units)
    late_unit = Counter(u for i in overdue for u in i.units)
    out = [
        "<h2>Open issues 在办</h2>",
        "<p class=\"note\">Issues with status open in every worker's table (resolved issues "
        "awaiting the resident's rating are not counted). Overdue: a limit of the level "
        "holding it has passed unmet (its response, its resolution, or a department's "
        "report), judged at the engine clock.</p>",
        "<div class=\"tiles\">",
        f"<div class=\"tile\"><b id=\"open-count\">{len(issues)}</b><span>open</span></div>",
        f"<div class=\"tile\"><b id=\"overdue-count\" class=\"late\">{len(overdue)}</b>"
        "<span>overdue 超时</span></div></div>",
    ]
    if view.truncated:
        out.append(f"<p class=\"error\" id=\"truncated\">More open issues than this page reads; "
                   f"the counts cover the first {len(issues)}.</p>")
    out.append("<div class=\"cols\"><div><table id=\"streets\"><tr><th>street 街道</th>"
               "<th class=\"n\">open</th><th class=\"n\">overdue</th></tr>")
    for street in sorted(by_street, key=lambda s: (-late_street[s], -by_street[s], s)):
        out.append(f"<tr data-section=\"street\" data-id=\"{e(street)}\"><td>"
                   f"{e(view.name(street))}</td><td class=\"n\">{by_street[street]}</td>"
                   f"<td class=\"n\">{late_street[street]}</td></tr>")
    out.append("</table></div><div><table id=\"units\"><tr><th>holding unit 承办单位</th>"
               "<th class=\"n\">open</th><th class=\"n\">overdue</th></tr>")
    for unit in sorted(by_unit, key=lambda u: (-late_unit[u], -by_unit[u], u)):
        out.append(f"<tr data-section=\"unit\" data-id=\"{e(unit)}\"><td>{e(view.name(unit))}"
                   f"</td><td class=\"n\">{by_unit[unit]}</td>"
                   f"<td class=\"n\">{late_unit[unit]}</td></tr>")
    out.append("</table></div></div>")
    shown = issues[:SHOWN]
    out.append(f"<h2>Open issues, overdue first</h2><p class=\"note\">{len(shown)} of "
               f"{len(issues)} shown.</p><table id=\"issues\"><tr><th>issue</th>"
               "<th>street</th><th>level</th><th>holding</th><th>held since</th>"
               "<th>overdue / next limit</th></tr>")
    for i in shown:
        if i.missed:
            m = i.missed[0]
            limit = (f"<span class=\"late\">{e(m.kind)} of {e(view.name(m.unit))} due "
                     f"{e(when(m.due))}</span>")
        else:
            nxt = min((x for x in i.limits if not x.warning), key=lambda x: x.due, default=None)
            limit = "—" if nxt is None else f"{e(nxt.kind)} by {e(when(nxt.due))}"
        holders = "、".join(view.name(u) for u in i.units)
        out.append(f"<tr data-section=\"issue\" data-id=\"{e(i.id)}\" data-overdue="
                   f"\"{'true' if i.overdue else 'false'}\"><td><a href=\"/api/issues/"
                   f"{e(i.id)}\">{e(i.id)}</a></td><td>{e(view.name(i.street))}</td>"
                   f"<td>{e(i.level)}</td><td>{e(holders)}</td><td>{e(when(i.held_since))}</td>"
                   f"<td>{limit}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _rate_cells(d: DepartmentFigures) -> str:
    rate = d.report_rate
    return (f"<td class=\"n\">{d.assigned}</td><td class=\"n\">{d.on_time}</td>"
            f"<td class=\"n\">{d.late}</td><td class=\"n\">{d.missed}</td>"
            f"<td class=\"n\">{e(rate.percent())} {rate.numerator}/{rate.denominator}</td>")


def _reports_section(view: View) -> str:
    f = view.figures
    today = {d.department: d for d in f.today.departments}
    out = [
        "<h2>Report rate by department 报到率</h2>",
        "<p class=\"note\" id=\"report-note\">Counted from <code>issues.closed</code>, as "
        "<code>whistle report</code> counts: every report (报到) due on an issue that "
        f"closed in the period, on time, late or missed. Today: {e(_period(f.today))}; this "
        f"month: {e(_period(f.month))} (Asia/Shanghai, engine clock). Reports still due on "
        "issues not yet closed are not counted. "
        f"{f.closures_read} closure record(s) read since this worker started"
        f"{'' if f.reading else ' (the reader is not connected yet)'}.</p>",
        "<table id=\"reports\"><tr><th rowspan=\"2\">department 部门</th>"
        "<th colspan=\"5\">today 今日</th><th colspan=\"5\">this month 本月</th></tr><tr>"
        + "<th class=\"n\">due</th><th class=\"n\">on time</th><th class=\"n\">late</th>"
          "<th class=\"n\">missed</th><th class=\"n\">rate</th>" * 2 + "</tr>",
    ]
    rows = [*f.month.departments, f.month.department_total]
    for d in rows:
        t = (f.today.department_total if d.department == TOTAL
             else today.get(d.department, DepartmentFigures(d.department)))
        total = " class=\"total\"" if d.department == TOTAL else ""
        out.append(f"<tr{total} data-section=\"report\" data-id=\"{e(d.department)}\"><td>"
                   f"{e(_department(view, d.department))}</td>{_rate_cells(t)}"
                   f"{_rate_cells(d)}</tr>")
    out.append("</table>")
    return "".join(out)


def _department(view: View, department: str) -> str:
    return "全部部门 all departments" if department == TOTAL else view.name(department)


def _period(a: Assessment) -> str:
    return (f"{a.start.astimezone(TZ):%Y-%m-%d %H:%M} to {a.end.astimezone(TZ):%Y-%m-%d %H:%M}, "
            f"{a.issues} issue(s) closed")


def _events_section(view: View) -> str:
    out = ["<h2>Recent lifecycle events</h2><p class=\"note\">The last "
           f"{len(view.recent)} events on <code>issues.lifecycle</code>, newest first.</p>"
           "<ol class=\"events\" id=\"events\">"]
    for doc in view.recent:
        kind = str(doc.get("type", ""))
        try:
            sentence = describe(doc, TZ)
        except Exception:  # an event the renderer cannot word: show its type only
            sentence = kind
        moment = doc.get("time")
        try:
            at = when(datetime.fromisoformat(str(moment)))
        except ValueError:
            at = str(moment)
        out.append(f"<li data-section=\"event\" data-type=\"{e(kind)}\" data-id="
                   f"\"{e(doc.get('subject', ''))}\" data-event=\"{e(doc.get('id', ''))}\">"
                   f"<code>{e(at)}</code> "
                   f"<b>{e(doc.get('subject', ''))}</b> {e(sentence)}</li>")
    out.append("</ol>")
    return "".join(out)
