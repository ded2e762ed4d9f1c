"""Stage 1 for ``returns`` (退单) and ``extensions`` (延期), in ``defaults`` or in a rule
(supervision and parking, the other workflow sections, are in ``engine.rules.workflow_section``).

::

    returns:
      adjudicator: level_above     # or a unit id (a dispatcher such as the district centre)
      dispatcher: city_operations  # who level_above is for a street (there is none above it)
      window: 2 working days       # to return after the assignment began
      max: 2                       # returns per issue; then the last assignment is for good
      clock: runs                  # runs (default) | pauses while a return is pending
    extensions:
      tiers:                       # by growing length past the current limit
        - {up_to: 5 working days, approver: level_above}
        - {up_to: 20 working days, approver: city_operations}
      max: 2                       # approved extensions per assignment
      max_total: 20 working days   # together, past the limit first set
      dispatcher: city_operations

A rule's section replaces the defaults' whole; ``off`` turns it off for the rule. The unit ids
are checked against the registry, and ``level_above`` needs a ``dispatcher`` when a ladder has
a street rung (stage 3, in the loader, through :func:`check_units` and :func:`check_above`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.domain.ruleset import Extensions, ExtensionTier, Returns
from engine.rules.errors import Mark, unknown
from engine.rules.schema import Reader
from engine.rules.sections import UNSET, Ref, Unset
from engine.rules.yamlpos import Scalar, YNode

LEVEL_ABOVE = "level_above"


@dataclass(frozen=True)
class ReturnsSpec:
    mark: Mark
    units: tuple[Ref, ...]  # the unit ids written (adjudicator, dispatcher)
    level_above: bool  # "level_above" needs a dispatcher for streets
    dispatcher: bool
    model: Returns | None  # None: refused (an error was reported)


@dataclass(frozen=True)
class ExtensionsSpec:
    mark: Mark
    units: tuple[Ref, ...]  # approvers that are unit ids, and the dispatcher
    level_above: bool
    dispatcher: bool
    model: Extensions | None


# UNSET: not written (the defaults apply); None: ``off``
ReturnsSetting = ReturnsSpec | None | Literal[Unset.UNSET]
ExtensionsSetting = ExtensionsSpec | None | Literal[Unset.UNSET]


def _off(node: YNode) -> bool:
    return isinstance(node, Scalar) and (node.value is False or node.value == "off")


def _unit(node: YNode, label: str, r: Reader, units: list[Ref]) -> str | None:
    """``level_above`` or a unit id (kept in ``units`` for the registry check)."""
    name = r.ident(node, label, f"{LEVEL_ABOVE} or a unit id")
    if name is not None and name != LEVEL_ABOVE:
        units.append(Ref(name, node.mark))
    return name


def _at_least_one(node: YNode, label: str, r: Reader) -> int | None:
    value = node.value if isinstance(node, Scalar) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        r.wrong(node, label, "a whole number, 1 or more (to take none, write the section as off)")
        return None
    return value


def parse_returns(node: YNode, r: Reader) -> ReturnsSetting:
    if _off(node):
        return None
    keys = ("adjudicator", "dispatcher", "window", "max", "clock")
    values = r.fields(node, '"returns"', keys, ("window",))
    if values is None:
        return ReturnsSpec(node.mark, (), False, False, None)
    units: list[Ref] = []
    adjudicator = _unit(values["adjudicator"], '"adjudicator"', r, units) if (
        "adjudicator" in values) else LEVEL_ABOVE
    dispatcher = None
    if "dispatcher" in values:
        dispatcher = r.ident(values["dispatcher"], '"dispatcher"', "a unit id")
        if dispatcher is not None:
            units.append(Ref(dispatcher, values["dispatcher"].mark))
    window = r.duration(values["window"], '"window"') if "window" in values else None
    most = _at_least_one(values["max"], '"max"', r) if "max" in values else 2
    clock = r.choice(values["clock"], '"clock"', ("runs", "pauses")) if "clock" in values else (
        "runs")
    model = None
    if adjudicator is not None and window is not None and most is not None and clock and (
            dispatcher is not None or "dispatcher" not in values):
        model = Returns(adjudicator=adjudicator, dispatcher=dispatcher, window=window, max=most,
                        pause=clock == "pauses")
    return ReturnsSpec(node.mark, tuple(units), adjudicator == LEVEL_ABOVE,
                       dispatcher is not None, model)


def parse_extensions(node: YNode, r: Reader) -> ExtensionsSetting:
    if _off(node):
        return None
    values = r.fields(node, '"extensions"', ("tiers", "max", "max_total", "dispatcher"),
                      ("tiers",))
    if values is None:
        return ExtensionsSpec(node.mark, (), False, False, None)
    units: list[Ref] = []
    tiers: list[ExtensionTier] | None = None
    level_above = False
    last = None  # the last tier's readable up_to, which the next must be longer than
    if "tiers" in values:
        items = r.items(values["tiers"], '"tiers"', "a list of {up_to, approver}")
        tiers = [] if items is not None else None
        if items is not None and not items:
            r.error(values["tiers"].mark, '"tiers" is empty: list who approves up to how long')
            tiers = None
        for item in items or ():
            tier = r.fields(item, "extension tier", ("up_to", "approver"), ("up_to", "approver"))
            if tier is None:
                tiers = None
                continue
            up_to = r.duration(tier["up_to"], '"up_to"') if "up_to" in tier else None
            approver = _unit(tier["approver"], '"approver"', r, units) if (
                "approver" in tier) else None
            level_above |= approver == LEVEL_ABOVE
            before, last = last, up_to or last
            if up_to is None or approver is None:
                tiers = None
                continue
            if before is not None:
                if before.working != up_to.working:
                    r.error(tier["up_to"].mark, f'"up_to" {up_to} mixes working and wall time '
                                                f"with the tier before it ({before})")
                    tiers = None
                    continue
                if up_to.seconds <= before.seconds:
                    r.error(tier["up_to"].mark, f'"up_to" {up_to} is not longer than the tier '
                                                f"before it ({before}): list tiers by growing "
                                                "length")
                    tiers = None
                    continue
            if tiers is not None:
                tiers.append(ExtensionTier(up_to=up_to, approver=approver))
    most = _at_least_one(values["max"], '"max"', r) if "max" in values else 2
    total = r.duration(values["max_total"], '"max_total"') if "max_total" in values else None
    dispatcher = None
    if "dispatcher" in values:
        dispatcher = r.ident(values["dispatcher"], '"dispatcher"', "a unit id")
        if dispatcher is not None:
            units.append(Ref(dispatcher, values["dispatcher"].mark))
    model = None
    if tiers and most is not None and (total is not None or "max_total" not in values) and (
            dispatcher is not None or "dispatcher" not in values):
        model = Extensions(tiers=tuple(tiers), max=most, max_total=total, dispatcher=dispatcher)
    return ExtensionsSpec(node.mark, tuple(units), level_above, dispatcher is not None, model)


def effective(own: ReturnsSetting | ExtensionsSetting,
              default: ReturnsSetting | ExtensionsSetting) -> ReturnsSpec | ExtensionsSpec | None:
    """The section in force for a rule: its own, else the defaults' (None: off or none)."""
    chosen = default if own is UNSET else own
    return None if chosen is UNSET else chosen


def check_units(spec: ReturnsSpec | ExtensionsSpec | None, known: set[str] | None,
                r: Reader) -> None:
    if spec is None or known is None:
        return
    for ref in spec.units:
        if ref.name not in known:
            r.error(ref.mark, unknown("unit", ref.name, known))


def check_above(spec: ReturnsSpec | ExtensionsSpec | None, levels: set[str], title: str,
                reported: set[Mark], r: Reader) -> None:
    """``level_above`` for an issue held by a street: no unit is above it but a dispatcher."""
    if spec is None or not spec.level_above or spec.dispatcher or "street" not in levels:
        return
    if spec.mark in reported:
        return
    reported.add(spec.mark)
    what = "returns" if isinstance(spec, ReturnsSpec) else "extensions"
    role = "adjudicator" if what == "returns" else "approver"
    r.error(spec.mark, f'{what}: {role} "{LEVEL_ABOVE}" has no unit above a street ({title} '
                       'has a street rung): name a "dispatcher"')
