"""The terminal table: aligned columns, CJK-aware (a wide character takes two cells)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from engine.report.figures import Assessment, Rate
from engine.report.names import Names


def width(text: str) -> int:
    """Terminal cells: East Asian wide and fullwidth characters take two, combining marks none."""
    cells = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        cells += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return cells


def pad(text: str, cells: int, right: bool = False) -> str:
    fill = " " * max(0, cells - width(text))
    return fill + text if right else text + fill


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], gap: int = 2) -> list[str]:
    """Lines of a table: the first column left-aligned, the others right-aligned."""
    widths = [max(width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [pad(c, widths[i], right=i > 0) for i, c in enumerate(row)]
        lines.append((" " * gap).join(cells).rstrip())
    lines.insert(1, (" " * gap).join("-" * w for w in widths))
    return lines


def cell(rate: Rate) -> str:
    return f"{rate.percent()} ({rate.numerator}/{rate.denominator})" if rate.denominator else "—"


def period_line(a: Assessment) -> str:
    start = a.start.isoformat(timespec="minutes")
    end = a.end.isoformat(timespec="minutes")
    return f"{start} to {end} (end exclusive)"


def counts_line(a: Assessment) -> str:
    return (f"{a.issues} issue(s) closed in the period; {a.duplicates} duplicate event(s) "
            f"skipped; {a.outside} issue(s) closed outside the period")


def render_table(a: Assessment, names: Names | None = None) -> str:
    names = names or Names()
    dept_rows = [
        [names.department(d.department), str(d.assigned), str(d.on_time), str(d.late),
         str(d.missed), cell(d.report_rate)]
        for d in (*a.departments, a.department_total)
    ]
    street_rows = [
        [names.street(s.street), str(s.closed), str(s.resolved), str(s.withdrawn),
         cell(s.whistle_rate), cell(s.local_resolution_rate), cell(s.on_time_rate),
         cell(s.satisfaction_rate)]
        for s in (*a.streets, a.district)
    ]
    out = [
        "Whistle assessment report (考核报告)",
        period_line(a),
        counts_line(a),
        "",
        "Department reports (报到率 = on time / due)",
        *table(["department", "due", "on time", "late", "missed", "report rate"], dept_rows),
        "",
        "Streets (by where the issue was raised)",
        *table(["street", "closed", "resolved", "withdrawn", "whistle rate", "resolved locally",
                "resolved on time", "satisfied"], street_rows),
    ]
    return "\n".join(out) + "\n"
