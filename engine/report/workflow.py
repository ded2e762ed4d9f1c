"""Returns (退单) and extensions (延期) per unit, from the closures of the period.

Counted from each closure's ``returns`` and ``extensions`` (the engine's own record of them),
for the issues closed in ``[start, end)`` after duplicates are skipped, as the other figures:
per returning or extending unit, returns requested, accepted, rejected (the invalid-return rate
is rejected / decided) and extensions requested, approved, rejected, missed (overdue even after
the extension).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from engine.report.figures import Closure, dedupe
from engine.report.names import Names
from engine.report.text import table


@dataclass
class UnitWorkflow:
    unit: str
    returns: int = 0
    returns_accepted: int = 0
    returns_rejected: int = 0
    extensions: int = 0
    extensions_approved: int = 0
    extensions_rejected: int = 0
    extensions_missed: int = 0


def workflow_figures(closures: Iterable[Closure], start: datetime, end: datetime
                     ) -> list[UnitWorkflow]:
    """Per unit (sorted by id), the returns and extensions of the issues closed in the period."""
    unique, _ = dedupe(closures)
    units: dict[str, UnitWorkflow] = {}
    for event in unique:
        data = event.data
        if not start <= data.closed_at < end:
            continue
        for r in data.returns:
            u = units.setdefault(r.unit, UnitWorkflow(r.unit))
            u.returns += 1
            u.returns_accepted += r.decision == "accepted"
            u.returns_rejected += r.decision == "rejected"
        for x in data.extensions:
            u = units.setdefault(x.unit, UnitWorkflow(x.unit))
            u.extensions += 1
            u.extensions_approved += x.decision == "approved"
            u.extensions_rejected += x.decision == "rejected"
            u.extensions_missed += x.missed
    return [units[k] for k in sorted(units)]


def render_workflow(rows: list[UnitWorkflow], names: Names | None = None) -> str:
    """The table section ("" when the period has no returns or extensions)."""
    if not rows:
        return ""
    names = names or Names()
    lines = table(
        ["unit", "returns", "accepted", "rejected", "extensions", "approved", "rejected",
         "missed after"],
        [[names.department(u.unit) if u.unit in names.departments else names.street(u.unit),
          str(u.returns), str(u.returns_accepted), str(u.returns_rejected), str(u.extensions),
          str(u.extensions_approved), str(u.extensions_rejected), str(u.extensions_missed)]
         for u in rows])
    return "\n".join(["", "Returns (退单) and extensions (延期) by unit", *lines]) + "\n"
