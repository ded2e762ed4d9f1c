"""CSV: one table, a ``section`` column (department or street), exact numerators and
denominators next to every rate. The totals rows have the id ``*``."""

from __future__ import annotations

import csv
import io

from engine.report.figures import Assessment, Rate
from engine.report.names import Names
from engine.report.rates import COUNT_FIELDS, ThreeRates, UnitRates
from engine.report.workflow import Moves, UnitMoves

RATES = ("report_rate", "whistle_rate", "local_resolution_rate", "on_time_rate",
         "satisfaction_rate")
COUNTS = ("assigned", "on_time", "late", "missed", "closed", "resolved", "withdrawn", "whistled",
          "resolved_locally", "resolved_on_time", "rated", "satisfied")
# the three rates (三率) by unit, open overdue limits counted (engine/report/rates.py)
UNIT_RATES = ("response_rate", "resolution_rate", "unit_satisfaction_rate")
UNIT_COUNTS = tuple(f"unit_{f.name}" for f in COUNT_FIELDS)
# the workflow moves by unit (engine/report/workflow.py); urgings_step_N follow "urgings"
RETURN_COUNTS = ("returns_requested", "returns_accepted", "returns_rejected", "returns_pending")
EXTENSION_COUNTS = ("extensions_requested", "extensions_approved", "extensions_rejected",
                    "extensions_pending", "extensions_missed")
PARKING_COUNTS = ("parked_issues", "parked_periods", "parked_seconds", "longest_parked_seconds",
                  "reviews_due")


def moves_columns(steps: int) -> list[str]:
    """The moves' columns; ``steps``: the highest urging step sent in the period."""
    return [*RETURN_COUNTS, "invalid_return_rate", "invalid_return_rate_numerator",
            "invalid_return_rate_denominator", *EXTENSION_COUNTS,
            "overdue_after_extension_rate", "overdue_after_extension_rate_numerator",
            "overdue_after_extension_rate_denominator", "urgings",
            *(f"urgings_step_{i}" for i in range(1, steps + 1)), "supervision_cases",
            *PARKING_COUNTS]


def columns(moves_steps: int | None = None) -> list[str]:
    """Every column; the moves' ones only with ``moves_steps`` (a report with the moves)."""
    cols = ["section", "id", "name"]
    for c in COUNTS:
        cols.append(c)
    for r in RATES:
        cols += [r, f"{r}_numerator", f"{r}_denominator"]
    cols += UNIT_COUNTS
    for r in UNIT_RATES:
        cols += [r, f"{r}_numerator", f"{r}_denominator"]
    if moves_steps is not None:
        cols += moves_columns(moves_steps)
    return cols


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _moves(row: dict[str, str], u: UnitMoves, steps: int) -> None:
    for c in (*RETURN_COUNTS, *EXTENSION_COUNTS, "supervision_cases", "parked_issues",
              "parked_periods", "reviews_due"):
        row[c] = str(getattr(u, c))
    row["parked_seconds"] = _seconds(u.parked_seconds)
    row["longest_parked_seconds"] = _seconds(u.longest_parked_seconds)
    _rate(row, "invalid_return_rate", u.invalid_return_rate)
    _rate(row, "overdue_after_extension_rate", u.overdue_after_extension_rate)
    row["urgings"] = str(u.urgings_sent)
    for i in range(1, steps + 1):
        row[f"urgings_step_{i}"] = str(u.urged(i))


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


def rows(a: Assessment, names: Names | None = None, rates: ThreeRates | None = None,
         moves: Moves | None = None) -> list[dict[str, str]]:
    """The department rows, then the street rows, each section's total last. With ``rates``,
    every row also has its unit's three rates, and with ``moves`` its workflow moves; a unit
    with rates or moves only gets a row too."""
    names = names or Names()
    cols = columns(None if moves is None else moves.steps)
    out = _rows(a, names, cols)
    by_key = {(r["section"], r["id"]): r for r in out}
    extra: dict[str, list[dict[str, str]]] = {"department": [], "street": []}

    def row_of(section: str, unit: str) -> dict[str, str]:
        row = by_key.get((section, unit))
        if row is None:
            row = by_key[(section, unit)] = {c: "" for c in cols}
            row.update(section=section, id=unit, name=(
                names.department(unit) if section == "department" else names.street(unit)))
            extra[section].append(row)
        return row

    if rates is not None:
        for section, units in (("department", (*rates.departments, rates.department_total)),
                               ("street", (*rates.streets, rates.street_total))):
            for u in units:
                _unit_rates(row_of(section, u.unit), u)
    if moves is not None:
        for section, m in moves.rows():
            _moves(row_of(section, m.unit), m, moves.steps)
    n_dept = len(a.departments)  # the new rows go before each section's total
    return [*out[:n_dept], *extra["department"], *out[n_dept:-1], *extra["street"], out[-1]]


def _rows(a: Assessment, names: Names, cols: list[str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for d in (*a.departments, a.department_total):
        row = {c: "" for c in cols}
        row.update(section="department", id=d.department, name=names.department(d.department),
                   assigned=str(d.assigned), on_time=str(d.on_time), late=str(d.late),
                   missed=str(d.missed))
        _rate(row, "report_rate", d.report_rate)
        out.append(row)
    for s in (*a.streets, a.district):
        row = {c: "" for c in cols}
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
               rates: ThreeRates | None = None, moves: Moves | None = None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(None if moves is None else moves.steps),
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(a, names, rates, moves))
    return buf.getvalue()
