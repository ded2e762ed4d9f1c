"""CSV: one table, a ``section`` column (department or street), exact numerators and
denominators next to every rate. The totals rows have the id ``*``."""

from __future__ import annotations

import csv
import io

from engine.report.figures import Assessment, Rate
from engine.report.names import Names

RATES = ("report_rate", "whistle_rate", "local_resolution_rate", "on_time_rate",
         "satisfaction_rate")
COUNTS = ("assigned", "on_time", "late", "missed", "closed", "resolved", "withdrawn", "whistled",
          "resolved_locally", "resolved_on_time", "rated", "satisfied")


def columns() -> list[str]:
    cols = ["section", "id", "name"]
    for c in COUNTS:
        cols.append(c)
    for r in RATES:
        cols += [r, f"{r}_numerator", f"{r}_denominator"]
    return cols


def _rate(row: dict[str, str], name: str, rate: Rate) -> None:
    row[name] = rate.percent() if rate.denominator else ""
    row[f"{name}_numerator"] = str(rate.numerator)
    row[f"{name}_denominator"] = str(rate.denominator)


def rows(a: Assessment, names: Names | None = None) -> list[dict[str, str]]:
    names = names or Names()
    out: list[dict[str, str]] = []
    for d in (*a.departments, a.department_total):
        row = {c: "" for c in columns()}
        row.update(section="department", id=d.department, name=names.department(d.department),
                   assigned=str(d.assigned), on_time=str(d.on_time), late=str(d.late),
                   missed=str(d.missed))
        _rate(row, "report_rate", d.report_rate)
        out.append(row)
    for s in (*a.streets, a.district):
        row = {c: "" for c in columns()}
        row.update(section="street", id=s.street, name=names.street(s.street))
        for c in ("closed", "resolved", "withdrawn", "whistled", "resolved_locally",
                  "resolved_on_time", "rated", "satisfied"):
            row[c] = str(getattr(s, c))
        _rate(row, "whistle_rate", s.whistle_rate)
        _rate(row, "local_resolution_rate", s.local_resolution_rate)
        _rate(row, "on_time_rate", s.on_time_rate)
        _rate(row, "satisfaction_rate", s.satisfaction_rate)
        out.append(row)
    return out


def render_csv(a: Assessment, names: Names | None = None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(a, names))
    return buf.getvalue()
