"""Stage 1: strict parse of each section into specs that remember where every name was written.

This module holds the shared pieces and the ``org``, ``categories`` and ``routes`` sections;
``calendar_section`` and ``rule_section`` hold the others.

A spec holds what could be read (None where a value was refused) plus the positions the later
stages need to point at: the name of each unit, route, calendar and rule, and every reference to
another one. The compiled domain models are built here when a piece is complete; the loader only
uses them once no stage has reported an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from engine.domain.ruleset import Department, Grid, Street, Village
from engine.domain.ruleset import Route as RouteModel
from engine.rules.errors import Mark
from engine.rules.schema import Reader
from engine.rules.yamlpos import Map, Scalar, YNode


@dataclass(frozen=True)
class Ref:
    """A name as written, and where."""

    name: str
    mark: Mark


class Unset(Enum):
    """A field left out (so the defaults apply), as opposed to written as ``off``/None."""

    UNSET = 0


UNSET = Unset.UNSET
WarnAt = float | None | Literal[Unset.UNSET]

# --- org ----------------------------------------------------------------------------------

UnitKind = Literal["street", "village", "grid", "department"]
UnitModel = Street | Village | Grid | Department


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    ref: Ref
    model: UnitModel | None


@dataclass
class OrgSpec:
    units: list[Unit] = field(default_factory=list)
    streets_read: bool = False  # False: the list was unreadable, so skip "unknown street"
    departments_read: bool = False

    def ids(self, kind: UnitKind) -> set[str]:
        return {unit.ref.name for unit in self.units if unit.kind == kind}


def parse_org(node: YNode, r: Reader) -> OrgSpec:
    spec = OrgSpec()
    fields = r.fields(node, '"org"', ("streets", "departments"), ("streets", "departments"))
    if fields is None:
        return spec
    if "streets" in fields:
        streets = r.items(fields["streets"], '"streets"', "a list of streets")
        spec.streets_read = streets is not None
        for item in streets or ():
            _street(item, r, spec)
    if "departments" in fields:
        departments = r.items(fields["departments"], '"departments"', "a list of departments")
        spec.departments_read = departments is not None
        for item in departments or ():
            values = r.fields(item, label_of(item, "department"), ("id", "name"), ("id", "name"))
            if values is None:
                continue
            ref, name = _id_and_name(values, r)
            if ref is not None:
                model = Department(id=ref.name, name=name) if name is not None else None
                spec.units.append(Unit("department", ref, model))
    return spec


def label_of(node: YNode, kind: str) -> str:
    """``street "anzhen"`` when the id can be read, for messages about the whole entry."""
    ident = node.get("id") if isinstance(node, Map) else None
    if isinstance(ident, Scalar) and isinstance(ident.value, str):
        return f'{kind} "{ident.value}"'
    return kind


def _id_and_name(values: dict[str, YNode], r: Reader) -> tuple[Ref | None, str | None]:
    ref = None
    if "id" in values:
        ident = r.ident(values["id"], '"id"')
        ref = Ref(ident, values["id"].mark) if ident is not None else None
    name = r.text(values["name"], '"name"') if "name" in values else None
    return ref, name


def _street(node: YNode, r: Reader, spec: OrgSpec) -> None:
    keys = ("id", "name", "kind", "villages")
    values = r.fields(node, label_of(node, "street"), keys, ("id", "name"))
    if values is None:
        return
    ref, name = _id_and_name(values, r)
    kind = r.choice(values["kind"], '"kind"', ("street", "town", "zone")) if (
        "kind" in values) else "street"
    if ref is not None:
        model = None
        if name is not None and kind in ("street", "town", "zone"):
            model = Street(id=ref.name, name=name, kind=kind)
        spec.units.append(Unit("street", ref, model))
    villages = r.items(values["villages"], '"villages"', "a list of villages") if (
        "villages" in values) else ()
    for item in villages or ():
        _village(item, ref, r, spec)


def _village(node: YNode, street: Ref | None, r: Reader, spec: OrgSpec) -> None:
    keys = ("id", "name", "kind", "sample", "grids")
    values = r.fields(node, label_of(node, "village"), keys, ("id", "name"))
    if values is None:
        return
    ref, name = _id_and_name(values, r)
    kind = r.choice(values["kind"], '"kind"', ("community", "village")) if (
        "kind" in values) else "community"
    sample = r.boolean(values["sample"], '"sample"') if "sample" in values else False
    if ref is not None:
        model = None
        if street is not None and name is not None and kind is not None and sample is not None:
            model = Village(id=ref.name, name=name, street=street.name, kind=kind,
                            sample=sample)
        spec.units.append(Unit("village", ref, model))
    grids = r.items(values["grids"], '"grids"', "a list of grids") if "grids" in values else ()
    for item in grids or ():
        grid = r.fields(item, label_of(item, "grid"), ("id", "name"), ("id", "name"))
        if grid is None:
            continue
        grid_ref, grid_name = _id_and_name(grid, r)
        if grid_ref is not None:
            grid_model = None
            if ref is not None and grid_name is not None:
                grid_model = Grid(id=grid_ref.name, name=grid_name, village=ref.name)
            spec.units.append(Unit("grid", grid_ref, grid_model))


# --- categories and routes ----------------------------------------------------------------


def parse_categories(node: YNode, r: Reader) -> dict[str, Ref] | None:
    """Category id -> display name (the Ref's mark is the id's)."""
    if not isinstance(node, Map):
        r.wrong(node, '"categories"', "a mapping of category ids to display names")
        return None
    out: dict[str, Ref] = {}
    for key, value in node.entries:
        if key.name == "default":
            r.error(key.mark, 'category id "default" is reserved for the fallback route')
            continue
        name = r.text(value, f'category "{key.name}"', "a display name")
        out[key.name] = Ref(name if name is not None else key.name, key.mark)
    return out


@dataclass(frozen=True)
class RouteSpec:
    category: Ref
    lead: Ref | None
    co: tuple[Ref, ...]
    route: RouteModel | None


_ROUTE_KEYS = ("lead", "co", "report", "resolve", "progress_every")


def parse_routes(node: YNode, r: Reader) -> list[RouteSpec] | None:
    if not isinstance(node, Map):
        r.wrong(node, '"routes"', "a mapping of categories to routes")
        return None
    return [_route(Ref(key.name, key.mark), value, r) for key, value in node.entries]


def _route(category: Ref, node: YNode, r: Reader) -> RouteSpec:
    label = f'route "{category.name}"'
    values = r.fields(node, label, _ROUTE_KEYS, ("lead", "report", "resolve"))
    if values is None:
        return RouteSpec(category, None, (), None)
    lead = ref_of(values["lead"], '"lead"', "a department id", r) if "lead" in values else None
    co: list[Ref] = []
    co_ok = True
    if "co" in values:
        items = r.items(values["co"], '"co"', "a list of department ids")
        co_ok = items is not None
        for item in items or ():
            ref = ref_of(item, '"co" item', "a department id", r)
            co_ok = co_ok and ref is not None
            if ref is not None:
                co.append(ref)
    report = r.duration(values["report"], '"report"') if "report" in values else None
    resolve = r.duration(values["resolve"], '"resolve"') if "resolve" in values else None
    progress = r.duration(values["progress_every"], '"progress_every"') if (
        "progress_every" in values) else None
    model = None
    if lead is not None and co_ok and report is not None and resolve is not None and (
        progress is not None or "progress_every" not in values
    ):
        model = RouteModel(category=category.name, lead=lead.name,
                           co=tuple(ref.name for ref in co), report=report, resolve=resolve,
                           progress_every=progress)
    return RouteSpec(category, lead, tuple(co), model)


def ref_of(node: YNode, label: str, what: str, r: Reader) -> Ref | None:
    name = r.text(node, label, what)
    return Ref(name, node.mark) if name is not None else None
