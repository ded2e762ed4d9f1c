"""The terminal table: aligned columns, CJK-aware (a wide character takes two cells)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from engine.report.figures import Assessment, Rate
from engine.report.names import Names
from engine.report.rates import ThreeRates, UnitRates
from engine.report.workflow import MOVES_LEGEND, Moves, duration

# The three rates' definitions, for every format (the HTML page shows them as its legend).
RATES_LEGEND = (
    "Limits settled in the period count: a missed limit at its due time (issue.overdue), "
    "whether or not its issue has closed since; a met one when its issue closed. Each "
    "(issue, limit, unit) counts once.",
    "Response rate 响应率 = responses on time / responses due; due = on time + late + missed + "
    "open overdue (missed, issue still open). A department's response is its report (报到).",
    "Resolution rate 解决率 = resolved within the limit / resolutions due; due = resolutions "
    "(the closure's or a reopening rating's holder) + resolve limits missed (closed since, or "
    "open overdue).",
    "Satisfaction rate 满意率 = satisfied / rated; rated = satisfied + unsatisfied + open overdue "
    "(resolve limit missed, issue open: not satisfied yet). Unrated resolutions (rating window "
    "lapsed, withdrawn, passed on) are shown, not in the denominator.",
    "Limits of grid, village and street holders count for the street; departments for "
    "themselves. A limit met on an issue still open is not counted until it closes (no event "
    "says it was met).",
)
RATE_TABLES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Response rate (响应率)",
     ("responses_due", "responses_on_time", "responses_late", "responses_missed",
      "responses_open_overdue"), "response_rate"),
    ("Resolution rate (解决率)",
     ("resolutions_due", "resolutions_on_time", "resolutions_overdue",
      "resolutions_open_overdue"), "resolution_rate"),
    ("Satisfaction rate (满意率)",
     ("rated", "satisfied", "unsatisfied", "satisfaction_open_overdue", "unrated"),
     "satisfaction_rate"),
)
HEADERS = {
    "responses_due": "due", "responses_on_time": "on time", "responses_late": "late",
    "responses_missed": "missed", "responses_open_overdue": "open overdue",
    "resolutions_due": "due", "resolutions_on_time": "on time",
    "resolutions_overdue": "overdue", "resolutions_open_overdue": "open overdue",
    "rated": "rated", "satisfied": "satisfied", "unsatisfied": "unsatisfied",
    "satisfaction_open_overdue": "open overdue", "unrated": "unrated",
}


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


def rate_rows(r: ThreeRates) -> list[tuple[str, UnitRates]]:
    """(section, figures) of every row: departments, their total, streets, their total."""
    return [*(("department", x) for x in (*r.departments, r.department_total)),
            *(("street", x) for x in (*r.streets, r.street_total))]


def unit_name(names: Names, section: str, unit: str) -> str:
    if section == "department":
        return names.department(unit)
    return names.street(unit)


def rates_lines(r: ThreeRates, names: Names) -> list[str]:
    out = ["", "The three rates (三率) by unit, open overdue limits counted "
           f"({r.lifecycle_events} lifecycle event(s) read, {r.duplicates} duplicate(s) skipped)"]
    for title, counts, rate in RATE_TABLES:
        rows = [[unit_name(names, sec, x.unit), *(str(getattr(x, c)) for c in counts),
                 cell(getattr(x, rate))] for sec, x in rate_rows(r)]
        out += ["", title, *table(["unit", *(HEADERS[c] for c in counts), "rate"], rows)]
    out += ["", *(f"* {line}" for line in RATES_LEGEND)]
    return out


def moves_lines(m: Moves, names: Names) -> list[str]:
    """The workflow moves' tables: returns, extensions, urging and supervision, parking."""
    rows = m.rows()
    steps = range(1, m.steps + 1)

    def name(section: str, unit: str) -> str:
        return unit_name(names, section, unit)

    out = ["", "Workflow moves by unit: returns (退单), extensions (延期), urging (催办), "
           f"supervision (督办), parking (挂账) ({m.lifecycle_events} urging and review "
           f"event(s) read, {m.duplicates} duplicate(s) skipped)"]
    out += ["", "Returns (退单)", *table(
        ["unit", "requested", "accepted", "rejected", "pending", "invalid-return rate"],
        [[name(s, u.unit), str(u.returns_requested), str(u.returns_accepted),
          str(u.returns_rejected), str(u.returns_pending), cell(u.invalid_return_rate)]
         for s, u in rows])]
    out += ["", "Extensions (延期)", *table(
        ["unit", "requested", "approved", "refused", "pending", "missed after",
         "overdue after extension"],
        [[name(s, u.unit), str(u.extensions_requested), str(u.extensions_approved),
          str(u.extensions_rejected), str(u.extensions_pending), str(u.extensions_missed),
          cell(u.overdue_after_extension_rate)] for s, u in rows])]
    out += ["", "Urging (催办) by step and supervision cases (督办)", *table(
        ["unit", "urgings", *(f"step {i}" for i in steps), "supervision cases"],
        [[name(s, u.unit), str(u.urgings_sent), *(str(u.urged(i)) for i in steps),
          str(u.supervision_cases)] for s, u in rows])]
    out += ["", "Parking (挂账)", *table(
        ["unit", "parked issues", "periods", "total parked", "longest parked", "reviews due"],
        [[name(s, u.unit), str(u.parked_issues), str(u.parked_periods),
          duration(u.parked_seconds), duration(u.longest_parked_seconds), str(u.reviews_due)]
         for s, u in rows])]
    out += ["", *(f"* {line}" for line in MOVES_LEGEND)]
    return out


def render_table(a: Assessment, names: Names | None = None,
                 rates: ThreeRates | None = None, moves: Moves | None = None) -> str:
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
    if rates is not None:
        out += rates_lines(rates, names)
    if moves is not None:
        out += moves_lines(moves, names)
    return "\n".join(out) + "\n"
