"""Stage 1 for a rule's ``urging`` (督办/催办) and ``parking`` (挂账) sections.

    urging:
      limit: resolve                 # the limit the ladder follows: respond | resolve
      decay: 4 working hours         # no two urgings of one issue closer than this (optional)
      steps:
        - {}                                            # an urging notice when it is missed
        - {after: 2 working days, copy_to: [above]}      # copied to the level above
        - {after: 5 working days, copy_to: [street], supervise: true}   # a supervision case
    parking:
      approvers: [street]            # above | street | village | unit ids
      max_review: 90d                # a review date at most this far ahead (optional)

The names in ``copy_to`` and ``approvers`` are checked against the org registry in stage 3
(``check_names``); the order of the steps here.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.calendar import Limit
from engine.domain.ruleset import Parking, UrgeStep, Urging
from engine.rules.errors import Mark, unknown
from engine.rules.schema import Reader
from engine.rules.sections import Ref
from engine.rules.yamlpos import Scalar, YNode

#: Names a rule may use for units relative to the issue, besides unit ids.
RELATIVE = ("above", "street", "village")

_URGING_KEYS = ("limit", "decay", "steps")
_STEP_KEYS = ("after", "copy_to", "supervise")
_PARKING_KEYS = ("approvers", "max_review")


@dataclass(frozen=True)
class UrgingSpec:
    urging: Urging | None  # None: refused (the errors are reported)
    names: tuple[Ref, ...]  # the units named in copy_to, for stage 3


@dataclass(frozen=True)
class ParkingSpec:
    parking: Parking | None
    names: tuple[Ref, ...]


def parse_urging(node: YNode, r: Reader) -> UrgingSpec:
    values = r.fields(node, '"urging"', _URGING_KEYS, ("steps",))
    if values is None:
        return UrgingSpec(None, ())
    ok = True
    limit = "resolve"
    if "limit" in values:
        chosen = r.choice(values["limit"], '"limit"', ("respond", "resolve"))
        ok &= chosen is not None
        limit = chosen or limit
    decay: Limit | None = None
    if "decay" in values:
        decay = r.duration(values["decay"], '"decay"')
        ok &= decay is not None
    items = r.items(values["steps"], '"steps"', "a list of urging steps") if (
        "steps" in values) else None
    if items is not None and not items:
        r.error(values["steps"].mark, '"steps" is empty: list the urging steps')
    steps: list[UrgeStep] = []
    names: list[Ref] = []
    supervised_at: Mark | None = None
    previous: tuple[Limit | None, Mark] | None = None
    for item in items or ():
        if supervised_at is not None:
            r.error(item.mark, f"a step after the supervision case (line {supervised_at.line}): "
                               "the supervision case is the ladder's last step")
        step = _step(item, r, names)
        if step is None:
            ok = False
            continue
        after = step.after
        if previous is not None and _earlier(after, previous[0]):
            r.error(item.mark, f"urging step after {_said(after)} comes before the step above "
                               f"it (line {previous[1].line}, after {_said(previous[0])})")
        previous = (after, item.mark)
        if step.supervise:
            supervised_at = supervised_at or item.mark
        steps.append(step)
    if not ok or items is None or not steps:
        return UrgingSpec(None, tuple(names))
    return UrgingSpec(Urging(limit=limit, decay=decay, steps=tuple(steps)),
                      tuple(names))


def _step(node: YNode, r: Reader, names: list[Ref]) -> UrgeStep | None:
    if isinstance(node, Scalar) and node.value is None:
        return UrgeStep()  # ``- `` alone: at the miss, nobody copied
    values = r.fields(node, "urging step", _STEP_KEYS)
    if values is None:
        return None
    after = r.duration(values["after"], '"after"') if "after" in values else None
    copy = _names(values["copy_to"], '"copy_to"', r) if "copy_to" in values else ()
    supervise = r.boolean(values["supervise"], '"supervise"') if "supervise" in values else False
    if ("after" in values and after is None) or copy is None or supervise is None:
        return None
    names += copy
    return UrgeStep(after=after, copy_to=tuple(ref.name for ref in copy), supervise=supervise)


def parse_parking(node: YNode, r: Reader) -> ParkingSpec:
    values = r.fields(node, '"parking"', _PARKING_KEYS, ("approvers",))
    if values is None:
        return ParkingSpec(None, ())
    approvers = _names(values["approvers"], '"approvers"', r) if "approvers" in values else None
    if approvers is not None and not approvers:
        r.error(values["approvers"].mark, '"approvers" is empty: name who approves parking')
    max_review = r.duration(values["max_review"], '"max_review"') if (
        "max_review" in values) else None
    if not approvers or ("max_review" in values and max_review is None):
        return ParkingSpec(None, tuple(approvers or ()))
    return ParkingSpec(Parking(approvers=tuple(a.name for a in approvers), max_review=max_review),
                       tuple(approvers))


def _names(node: YNode, label: str, r: Reader) -> tuple[Ref, ...] | None:
    items = r.items(node, label, f"a list of units ({', '.join(RELATIVE)} or unit ids)")
    if items is None:
        return None
    out: list[Ref] = []
    for item in items:
        name = r.text(item, f"{label} item", "a unit id")
        if name is None:
            return None
        if any(ref.name == name for ref in out):
            r.error(item.mark, f'"{name}" is listed twice in {label.strip(chr(34))}')
        out.append(Ref(name, item.mark))
    return tuple(out)


def check_names(refs: tuple[Ref, ...], units: set[str] | None, r: Reader) -> None:
    """Stage 3: every name is relative (above, street, village) or a unit of the registry."""
    if units is None:
        return
    for ref in refs:
        if ref.name not in RELATIVE and ref.name not in units:
            r.error(ref.mark, unknown("unit", ref.name, (*RELATIVE, *sorted(units))))


def _earlier(after: Limit | None, before: Limit | None) -> bool:
    """``after`` comes before ``before``, when the two can be compared (the same kind of time:
    wall, working days, or working hours/minutes/seconds)."""
    if after is None or before is None:
        return after is None and before is not None
    a, b = _measure(after), _measure(before)
    return a[0] == b[0] and a[1] < b[1]


def _measure(limit: Limit) -> tuple[str, int]:
    if not limit.working:
        return ("wall", limit.seconds)
    if limit.unit == "days":
        return ("working days", limit.amount)
    return ("working time", limit.seconds)


def _said(limit: Limit | None) -> str:
    return "the miss" if limit is None else str(limit)
