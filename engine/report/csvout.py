"""CSV: one table, a ``section`` column (department or street), exact numerators and
denominators next to every rate. The totals rows have the id ``*``."""

from __future__ import annotations

import csv
import io

from engine.report.figures import Assessment, Rate
from engine.report.names import Names
from engine.report.rates import COUNT_FIELDS, ThreeRates, UnitRates

RATES = ("report_rate", "whistle_rate", "local_resolution_rate", "on_time_rate",
         "satisfaction_rate")
COUNTS = ("assigned", "on_time", "late", "missed", "closed", "resolved", "withdrawn", "whistled",
          "resolved_locally", "resolved_on_time", "rated", "satisfied")
# the three rates (三率) by unit, open overdue limits counted (engine/report/rates.py)
UNIT_RATES = ("response_rate", "resolution_rate", "unit_satisfaction_rate")
UNIT_COUNTS = tuple(f"unit_{f.name}" for f in COUNT_FIELDS)


def columns() -> list[str]:
    cols = ["section", "id", "name"]
    for c in COUNTS:
        cols.append(c)
    for r in RATES:
        cols += [r, f"{r}_numerator", f"{r}_denominator"]
    cols += UNIT_COUNTS
    for r in UNIT_RATES:
        cols += [r, f"{r}_numerator", f"{r}_denominator"]
    return cols


def _rate(row: dict[str, str], name: str, rate: Rate) -> None:
    row[name] = rate.percent() if rate.denominator else ""
    row[f"{name}_numerator"] = str(rate.numerator)
    row[f"{name}_denominator"] = str(rate.denominator)


def _unit_rates(row: dict[str, str], u: UnitRates) -> None:
    for f in COUNT_FIELDS:
        row[f"unit_{f.name}"] = str(getattr(u, f.name))
    _rate(row, "response_rate", u.response_rate)
    _rate(row, "resolution_rate", u.resolution_rate)
    _rate(row, "unit_satisfaction_rate", u.satisfaction_rate)


def rows(a: Assessment, names: Names | None = None,
         rates: ThreeRates | None = None) -> list[dict[str, str]]:
    """The department rows, then the street rows, each section's total last. With ``rates``,
    every row also has its unit's three rates, and a unit with rates only gets a row too."""
    names = names or Names()
    out = _rows(a, names)
    if rates is None:
        return out
    by_key = {(r["section"], r["id"]): r for r in out}
    extra: dict[str, list[dict[str, str]]] = {"department": [], "street": []}
    for section, units in (("department", (*rates.departments, rates.department_total)),
                           ("street", (*rates.streets, rates.street_total))):
        for u in units:
            row = by_key.get((section, u.unit))
            if row is None:
                row = {c: "" for c in columns()}
                row.update(section=section, id=u.unit, name=(
                    names.department(u.unit) if section == "department" else names.street(u.unit)))
                extra[section].append(row)
            _unit_rates(row, u)
    n_dept = len(a.departments)  # the new rows go before each section's total
    return [*out[:n_dept], *extra["department"], *out[n_dept:-1], *extra["street"], out[-1]]


def _rows(a: Assessment, names: Names) -> list[dict[str, str]]:
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


def render_csv(a: Assessment, names: Names | None = None,
               rates: ThreeRates | None = None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(a, names, rates))
    return buf.getvalue()
