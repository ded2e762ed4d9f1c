"""The HTML page's section of the workflow moves by unit: returns (退单), extensions (延期),
urging (催办) and supervision (督办), parking (挂账); a chart of the two rates, four tables and
the legend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from engine.report.html_rates import _rate_cell
from engine.report.names import Names
from engine.report.text import unit_name
from engine.report.workflow import MOVES_LEGEND, Moves, UnitMoves, duration

MOVE_RATES = (  # (attribute, label, colour)
    ("invalid_return_rate", "invalid returns 退单不合理率", "#c53030"),
    ("overdue_after_extension_rate", "overdue after extension 延期后仍超期", "#b7791f"),
)
Cells = Callable[[UnitMoves], Sequence[str]]


def _num(value: int) -> str:
    return f"<td>{value}</td>"


def _table(key: str, head: Sequence[str], cells: Cells, m: Moves, names: Names) -> str:
    rows = m.rows()
    body = []
    for n, (section, u) in enumerate(rows):
        last = n == len(rows) - 1 or rows[n + 1][0] != section
        cls = ' class="total"' if last else ""
        body.append(
            f'<tr{cls} data-section="{key}-{section}" data-id="{escape(u.unit)}">'
            f"<td>{escape(unit_name(names, section, u.unit))}</td>{''.join(cells(u))}</tr>")
    heads = "".join(f"<th>{escape(h)}</th>" for h in ("unit 单位", *head))
    return f'<div id="table-{key}"><table><tr>{heads}</tr>{"".join(body)}</table></div>'


def moves_section(m: Moves, names: Names) -> str:
    from engine.report.html import _bar_rows

    steps = range(1, m.steps + 1)
    units = [(s, u) for s, u in m.rows() if u.unit != "*"]
    chart = _bar_rows(
        [unit_name(names, s, u.unit) for s, u in units],
        [[(f"{s}:{u.unit}:{attr}", getattr(u, attr), colour) for attr, _, colour in MOVE_RATES]
         for s, u in units],
    ) if units else "<p>No units.</p>"
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(label)}</span>'
                     for _, label, c in MOVE_RATES)
    items = "".join(f"<li>{escape(line)}</li>" for line in MOVES_LEGEND)
    tables = [
        "<h3>Returns 退单</h3>",
        _table("returns", ("requested 申请", "accepted 同意", "rejected 驳回", "pending 待定",
                           "invalid-return rate 退单不合理率"),
               lambda u: (_num(u.returns_requested), _num(u.returns_accepted),
                          _num(u.returns_rejected), _num(u.returns_pending),
                          _rate_cell(u.invalid_return_rate)), m, names),
        "<h3>Extensions 延期</h3>",
        _table("extensions", ("requested 申请", "approved 批准", "refused 驳回", "pending 待定",
                              "missed after 延期后超期", "overdue after extension 延期后仍超期率"),
               lambda u: (_num(u.extensions_requested), _num(u.extensions_approved),
                          _num(u.extensions_rejected), _num(u.extensions_pending),
                          _num(u.extensions_missed), _rate_cell(u.overdue_after_extension_rate)),
               m, names),
        "<h3>Urging 催办 and supervision 督办</h3>",
        _table("urgings", ("urgings 催办", *(f"step {i} 第{i}级" for i in steps),
                           "supervision cases 督办件"),
               lambda u: (_num(u.urgings_sent), *(_num(u.urged(i)) for i in steps),
                          _num(u.supervision_cases)), m, names),
        "<h3>Parking 挂账</h3>",
        _table("parking", ("parked issues 挂账件", "periods 次数", "total parked 累计挂账",
                           "longest parked 最长挂账", "reviews due 到期复核"),
               lambda u: (_num(u.parked_issues), _num(u.parked_periods),
                          f"<td>{duration(u.parked_seconds)}</td>",
                          f"<td>{duration(u.longest_parked_seconds)}</td>",
                          _num(u.reviews_due)), m, names),
    ]
    return (
        "<h2>Workflow moves by unit 退单、延期、督办、挂账</h2>"
        f'<p class="meta" id="moves-counts">{m.lifecycle_events} urging and review event(s) '
        f"read (urged, supervised, review_due); {m.duplicates} duplicate(s) skipped</p>"
        f'<p class="legend">{legend}</p>'
        f'<div id="chart-moves">{chart}</div>'
        f"{''.join(tables)}"
        f'<div class="note" id="moves-legend"><b>Workflow moves 口径.</b><ul>{items}</ul></div>'
    )
