"""A self-contained HTML page: inline CSS, inline SVG bar charts, the tables, the definitions.

No scripts, fonts or images are fetched: the page is one file that can be mailed or archived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from engine.report.figures import Assessment, DepartmentFigures, Rate, StreetFigures
from engine.report.html_moves import moves_section
from engine.report.html_rates import rates_section
from engine.report.names import Names
from engine.report.rates import ThreeRates
from engine.report.text import counts_line, period_line, width
from engine.report.workflow import Moves

STREET_RATES = (  # (attribute, label, colour): the three rates charted by street
    ("local_resolution_rate", "resolved locally 就地解决率", "#2f855a"),
    ("on_time_rate", "resolved on time 按时办结率", "#2b6cb0"),
    ("satisfaction_rate", "satisfied 满意率", "#c05621"),
)
REPORT_COLOUR = "#6b46c1"
CHART_W = 960
VALUE_W = 150  # room right of the bars for "75.0% (9/12)"

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","PingFang SC","Microsoft YaHei",
 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1a202c}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
 border-bottom:2px solid #e2e8f0;padding-bottom:.3rem}
.meta{color:#4a5568;margin:.2rem 0}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:.8rem;
 margin:1.2rem 0}
.tile{border:1px solid #e2e8f0;border-radius:6px;padding:.6rem .8rem}
.tile b{display:block;font-size:1.5rem}.tile span{color:#4a5568;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin-top:.6rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e2e8f0;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f7fafc}
tr.total td{font-weight:bold;border-top:2px solid #a0aec0}
td small{color:#718096}h3{font-size:1rem;margin-top:1.2rem}
svg text{font-size:13px;fill:#1a202c}svg .axis{stroke:#e2e8f0}svg .none{fill:#a0aec0}
.legend span{display:inline-block;margin-right:1.2rem;font-size:.9rem}
.legend i{display:inline-block;width:12px;height:12px;margin-right:.3rem;vertical-align:-1px}
.note{color:#4a5568;font-size:.85rem;line-height:1.5;margin-top:2rem}
"""


def _bar_rows(labels: Sequence[str], series: Sequence[Sequence[tuple[str, Rate, str]]],
              bar_h: int = 16) -> str:
    """Horizontal bars, one group per label; each series item is (data-id, rate, colour)."""
    label_w = max([width(label) for label in labels] + [8]) * 7 + 16
    span = CHART_W - label_w - VALUE_W
    group_h = bar_h * max(len(s) for s in series) + 12
    height = group_h * len(labels) + 24
    parts = [f'<svg viewBox="0 0 {CHART_W} {height}" width="100%" role="img">']
    for pct in (0, 25, 50, 75, 100):
        x = label_w + span * pct / 100
        parts.append(f'<line class="axis" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 18}"/>'
                     f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle">{pct}%</text>')
    for i, (label, bars) in enumerate(zip(labels, series, strict=True)):
        top = i * group_h + 6
        mid = top + bar_h * len(bars) / 2 + 4
        parts.append(f'<text x="{label_w - 8}" y="{mid:.1f}" text-anchor="end">'
                     f"{escape(label)}</text>")
        for j, (data_id, rate, colour) in enumerate(bars):
            y = top + j * bar_h
            value = rate.value
            w = float(value) * span if value is not None else 0.0
            text = f"{rate.percent()} ({rate.numerator}/{rate.denominator})" if value is not None \
                else "— (nothing to count)"
            cls = "" if value is not None else ' class="none"'
            parts.append(
                f'<rect class="bar" data-id="{escape(data_id)}" x="{label_w}" y="{y + 1}" '
                f'width="{w:.1f}" height="{bar_h - 2}" fill="{colour}">'
                f"<title>{escape(label)}: {escape(text)}</title></rect>"
                f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h - 4}"'
                f"{cls}>{escape(text)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _rate_cell(rate: Rate) -> str:
    if not rate.denominator:
        return "<td>—</td>"
    return f"<td>{rate.percent()} <small>{rate.numerator}/{rate.denominator}</small></td>"


def _dept_table(rows: Sequence[DepartmentFigures], names: Names) -> str:
    head = ("<tr><th>department 部门</th><th>due 应报到</th><th>on time 按时</th>"
            "<th>late 超时</th><th>missed 未报到</th><th>report rate 报到率</th></tr>")
    body = []
    for n, d in enumerate(rows):
        cls = ' class="total"' if n == len(rows) - 1 else ""
        body.append(
            f'<tr{cls} data-section="department" data-id="{escape(d.department)}">'
            f"<td>{escape(names.department(d.department))}</td><td>{d.assigned}</td>"
            f"<td>{d.on_time}</td><td>{d.late}</td><td>{d.missed}</td>"
            f"{_rate_cell(d.report_rate)}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _street_table(rows: Sequence[StreetFigures], names: Names) -> str:
    head = ("<tr><th>street 镇（街道）</th><th>closed 办结</th><th>resolved 解决</th>"
            "<th>withdrawn 撤回</th><th>whistle rate 吹哨率</th>"
            "<th>resolved locally 就地解决率</th><th>on time 按时办结率</th>"
            "<th>satisfied 满意率</th></tr>")
    body = []
    for n, s in enumerate(rows):
        cls = ' class="total"' if n == len(rows) - 1 else ""
        body.append(
            f'<tr{cls} data-section="street" data-id="{escape(s.street)}">'
            f"<td>{escape(names.street(s.street))}</td><td>{s.closed}</td><td>{s.resolved}</td>"
            f"<td>{s.withdrawn}</td>{_rate_cell(s.whistle_rate)}"
            f"{_rate_cell(s.local_resolution_rate)}{_rate_cell(s.on_time_rate)}"
            f"{_rate_cell(s.satisfaction_rate)}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _tile(label: str, value: str, sub: str = "") -> str:
    return (f'<div class="tile"><span>{escape(label)}</span><b>{escape(value)}</b>'
            f"<span>{escape(sub)}</span></div>")


NOTE = """<p class="note"><b>Definitions 口径.</b> Every figure is counted from the engine's
<code>issue.closed</code> events (the closed loop), exactly: no sampling, no estimates. An issue
counts in the period when it was closed at or after the start and before the end; an event
delivered twice, or a second closure of the same issue, counts once. <b>Report rate 报到率</b>: of
the reports due from a department (one per issue passed to it), those made within the limit;
late and never-made (missed) reports count against it. <b>Whistle rate 吹哨率</b>: closed issues
whistled up at least once / closed issues. <b>Resolved locally 就地解决率</b>: resolved issues
closed while held by a grid or a village / resolved issues. <b>Resolved on time 按时办结率</b>:
resolved issues with no time limit missed / resolved issues. <b>Satisfied 满意率</b>: satisfied
ratings / rated issues (unrated and withdrawn issues are left out). Streets are where the issue
was raised. Percentages have one decimal, halves rounded up; the exact counts follow them.</p>"""


def render_html(a: Assessment, names: Names | None = None,
                generated_at: datetime | None = None, title: str | None = None,
                rates: ThreeRates | None = None, moves: Moves | None = None) -> str:
    names = names or Names()
    title = title or "Whistle assessment report 考核报告"
    generated = (generated_at or datetime.now().astimezone()).isoformat(timespec="seconds")
    depts, streets = list(a.departments), list(a.streets)
    t, d = a.department_total, a.district
    tiles = "".join([
        _tile("issues closed 办结", str(a.issues), f"{d.withdrawn} withdrawn 撤回"),
        _tile("report rate 报到率", t.report_rate.percent(),
              f"{t.on_time}/{t.assigned} reports on time"),
        _tile("whistle rate 吹哨率", d.whistle_rate.percent(),
              f"{d.whistled}/{d.closed} whistled up"),
        *(_tile(label, getattr(d, attr).percent(),
                f"{getattr(d, attr).numerator}/{getattr(d, attr).denominator}")
          for attr, label, _ in STREET_RATES),
    ])
    dept_chart = _bar_rows(
        [names.department(x.department) for x in depts],
        [[(x.department, x.report_rate, REPORT_COLOUR)] for x in depts],
    ) if depts else "<p>No departments.</p>"
    street_chart = _bar_rows(
        [names.street(x.street) for x in streets],
        [[(x.street, getattr(x, attr), colour) for attr, _, colour in STREET_RATES]
         for x in streets],
    ) if streets else "<p>No streets.</p>"
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(label)}</span>'
                     for _, label, c in STREET_RATES)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="meta" id="period">Period 考核期: {escape(period_line(a))}</p>
<p class="meta" id="generated">Generated 生成时间: {escape(generated)}</p>
<p class="meta" id="counts">{escape(counts_line(a))}</p>
<div class="tiles">{tiles}</div>
<h2>Report rate by department 部门报到率</h2>
<div id="chart-departments">{dept_chart}</div>
<h2>Rates by street 各镇（街道）</h2>
<p class="legend">{legend}</p>
<div id="chart-streets">{street_chart}</div>
<h2>Departments 部门</h2>
<div id="table-departments">{_dept_table([*depts, t], names)}</div>
<h2>Streets 镇（街道）</h2>
<div id="table-streets">{_street_table([*streets, d], names)}</div>
{rates_section(rates, names) if rates is not None else ""}
{moves_section(moves, names) if moves is not None else ""}
{NOTE}
</body></html>
"""
