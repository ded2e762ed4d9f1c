"""Display names for the ids in events: Chinese names of streets and departments, from the org
registry of a rules directory. Ids the registry does not know are shown as they are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.report.figures import TOTAL
from engine.report.period import ReportInputError


@dataclass(frozen=True)
class Names:
    streets: Mapping[str, str] = field(default_factory=dict)
    departments: Mapping[str, str] = field(default_factory=dict)
    territory: Mapping[str, str] = field(default_factory=dict)  # grid, village id -> street

    def street(self, street_id: str) -> str:
        return "全区合计 district" if street_id == TOTAL else self.streets.get(street_id, street_id)

    def department(self, department_id: str) -> str:
        if department_id == TOTAL:
            return "全部部门 all departments"
        return self.departments.get(department_id, department_id)


def load_names(directory: Path) -> Names:
    """Names from the org registry in ``directory`` (ReportInputError if it does not load)."""
    from engine.rules.loader import load_ruleset

    if not directory.is_dir():
        raise ReportInputError(f"--rules {directory}: not a directory")
    result = load_ruleset(directory)
    if result.ruleset is None:
        lines = "\n".join(str(e) for e in result.errors[:20])
        raise ReportInputError(f"--rules {directory}: the rules do not load:\n{lines}")
    registry = result.ruleset.registry
    return Names(
        streets={k: v.name for k, v in registry.streets.items()},
        departments={k: v.name for k, v in registry.departments.items()},
        territory={**{k: v.street for k, v in registry.villages.items()},
                   **{k: registry.street_of(k) for k in registry.grids}},
    )
