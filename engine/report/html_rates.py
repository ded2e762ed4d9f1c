"""The HTML page's section of the three rates (三率) by unit: bars, two tables, the legend."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from engine.report.figures import Rate
from engine.report.names import Names
from engine.report.rates import ThreeRates, UnitRates
from engine.report.text import RATES_LEGEND, unit_name

UNIT_RATES = (  # (attribute, label, colour)
    ("response_rate", "response 响应率", "#805ad5"),
    ("resolution_rate", "resolution 解决率", "#3182ce"),
    ("satisfaction_rate", "satisfaction 满意率", "#dd6b20"),
)
HEAD = ("<th>response rate 响应率</th><th>open overdue 超期未响应</th>"
        "<th>resolution rate 解决率</th><th>open overdue 超期未办结</th>"
        "<th>satisfaction rate 满意率</th><th>unrated 未评价</th>")


def _rate_cell(rate: Rate) -> str:
    if not rate.denominator:
        return "<td>—</td>"
    return f"<td>{rate.percent()} <small>{rate.numerator}/{rate.denominator}</small></td>"


def _table(section: str, title: str, rows: Sequence[UnitRates], names: Names) -> str:
    body = []
    for n, u in enumerate(rows):
        cls = ' class="total"' if n == len(rows) - 1 else ""
        body.append(
            f'<tr{cls} data-section="rates-{section}" data-id="{escape(u.unit)}">'
            f"<td>{escape(unit_name(names, section, u.unit))}</td>"
            f"{_rate_cell(u.response_rate)}<td>{u.responses_open_overdue}</td>"
            f"{_rate_cell(u.resolution_rate)}<td>{u.resolutions_open_overdue}</td>"
            f"{_rate_cell(u.satisfaction_rate)}<td>{u.unrated}</td></tr>")
    return f"<table><tr><th>{escape(title)}</th>{HEAD}</tr>{''.join(body)}</table>"


def rates_section(r: ThreeRates, names: Names) -> str:
    from engine.report.html import _bar_rows

    units = [("department", u) for u in r.departments] + [("street", u) for u in r.streets]
    chart = _bar_rows(
        [unit_name(names, s, u.unit) for s, u in units],
        [[(f"{s}:{u.unit}", getattr(u, attr), colour) for attr, _, colour in UNIT_RATES]
         for s, u in units],
    ) if units else "<p>No units.</p>"
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(label)}</span>'
                     for _, label, c in UNIT_RATES)
    items = "".join(f"<li>{escape(line)}</li>" for line in RATES_LEGEND)
    return (
        "<h2>The three rates by unit 三率（含超期未办）</h2>"
        f'<p class="meta" id="rates-counts">{r.lifecycle_events} lifecycle event(s) read '
        f"(overdue, reopened, escalated); {r.duplicates} duplicate(s) skipped</p>"
        f'<p class="legend">{legend}</p>'
        f'<div id="chart-rates">{chart}</div>'
        '<div id="table-rates-departments">'
        f"{_table('department', 'department 部门', [*r.departments, r.department_total], names)}"
        "</div>"
        '<div id="table-rates-streets">'
        f"{_table('street', 'street 镇（街道）', [*r.streets, r.street_total], names)}</div>"
        f'<div class="note" id="rates-legend"><b>The three rates 三率 口径.</b><ul>{items}</ul>'
        "</div>"
    )
