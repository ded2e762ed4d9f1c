"""Stage 1 for ``defaults`` and ``rules``: matchers, ladders, warning points and closing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

from pydantic import ValidationError

from engine.domain.calendar import Limit
from engine.domain.events import ReporterKind, Severity
from engine.domain.ruleset import LEVELS, Condition, MatchField, Step
from engine.rules.durations import parse_warn_at
from engine.rules.errors import Mark
from engine.rules.returns_section import (
    ExtensionsSetting,
    ReturnsSetting,
    parse_extensions,
    parse_returns,
)
from engine.rules.schema import Reader
from engine.rules.sections import UNSET, Ref, WarnAt, label_of, ref_of
from engine.rules.workflow_section import ParkingSpec, UrgingSpec, parse_parking, parse_urging
from engine.rules.yamlpos import Map, Scalar, Seq, YNode


@dataclass(frozen=True)
class ClosingSpec:
    rating_window: Limit | None = None
    max_reopens: int | None = None


@dataclass(frozen=True)
class DefaultsSpec:
    calendar: Ref | None = None
    # Written, even if refused, or defaults unreadable: "no calendar" would then be a cascade.
    calendar_written: bool = False
    warn_at: WarnAt = UNSET
    closing: ClosingSpec = ClosingSpec()
    returns: ReturnsSetting = UNSET
    extensions: ExtensionsSetting = UNSET


def parse_defaults(node: YNode, r: Reader) -> DefaultsSpec:
    values = r.fields(node, '"defaults"', ("calendar", "warn_at", "closing", "returns",
                                           "extensions"))
    if values is None:
        return DefaultsSpec(calendar_written=True)
    return DefaultsSpec(
        calendar=ref_of(values["calendar"], '"calendar"', "a calendar name", r)
        if "calendar" in values else None,
        calendar_written="calendar" in values,
        warn_at=_warn_at(values["warn_at"], r) if "warn_at" in values else UNSET,
        closing=_closing(values["closing"], r) if "closing" in values else ClosingSpec(),
        returns=parse_returns(values["returns"], r) if "returns" in values else UNSET,
        extensions=parse_extensions(values["extensions"], r) if "extensions" in values
        else UNSET,
    )


def _warn_at(node: YNode, r: Reader) -> WarnAt:
    if not isinstance(node, Scalar):
        r.wrong(node, '"warn_at"', "a percentage such as 80%, a fraction such as 0.8, or off")
        return UNSET
    try:
        return parse_warn_at(node.value)
    except ValueError as exc:
        r.error(node.mark, str(exc))
        return UNSET


def _closing(node: YNode, r: Reader) -> ClosingSpec:
    values = r.fields(node, '"closing"', ("rating_window", "max_reopens"))
    if values is None:
        return ClosingSpec()
    return ClosingSpec(
        rating_window=r.duration(values["rating_window"], '"rating_window"')
        if "rating_window" in values else None,
        max_reopens=r.count(values["max_reopens"], '"max_reopens"')
        if "max_reopens" in values else None,
    )


@dataclass(frozen=True)
class MatchSpec:
    field: Ref
    values: tuple[Ref, ...]  # the names compared by equality (plain, list or ``not``)
    condition: Condition | None


@dataclass(frozen=True)
class StepSpec:
    level: Ref | None
    step: Step | None


@dataclass(frozen=True)
class RuleSpec:
    mark: Mark
    id: Ref | None
    description: str
    matches: tuple[MatchSpec, ...]
    catch_all: bool
    calendar: Ref | None
    calendar_written: bool
    warn_at: WarnAt
    closing: ClosingSpec
    ladder: tuple[StepSpec, ...] | None
    ladder_mark: Mark | None
    urging: UrgingSpec | None = None  # supervision and parking (engine.rules.workflow_section)
    parking: ParkingSpec | None = None
    returns: ReturnsSetting = UNSET
    extensions: ExtensionsSetting = UNSET

    @property
    def title(self) -> str:
        return f'rule "{self.id.name}"' if self.id else f"the rule at line {self.mark.line}"


_RULE_KEYS = ("id", "description", "match", "calendar", "warn_at", "closing", "ladder",
              "urging", "parking", "returns", "extensions")
MATCH_FIELDS: tuple[MatchField, ...] = get_args(MatchField)
_OPERATORS = ("regex", "not", "not_regex")
_ALLOWED_VALUES: dict[str, tuple[str, ...]] = {
    "severity": get_args(Severity),
    "reporter": (*get_args(ReporterKind), "unknown"),
}


def parse_rules(node: YNode, r: Reader) -> list[RuleSpec] | None:
    """The rules that could be read; None if the section itself is not a list."""
    items = r.items(node, '"rules"', "a list of rules")
    if items is None:
        return None
    return [rule for item in items if (rule := _rule(item, r)) is not None]


def _rule(node: YNode, r: Reader) -> RuleSpec | None:
    values = r.fields(node, label_of(node, "rule"), _RULE_KEYS, ("id", "ladder"))
    if values is None:
        return None
    rule_id = None
    if "id" in values:
        name = r.ident(values["id"], '"id"', "a rule id")
        rule_id = Ref(name, values["id"].mark) if name is not None else None
    description = ""
    if "description" in values:
        description = r.text(values["description"], '"description"', empty=True) or ""
    matches: list[MatchSpec] = []
    catch_all = True
    if "match" in values:
        match = values["match"]
        if isinstance(match, Scalar) and match.value is None:
            pass  # ``match:`` with nothing: the catch-all
        elif (fields := r.fields(match, '"match"', MATCH_FIELDS)) is None:
            catch_all = False  # unreadable: neither a catch-all nor unreachable-making
        else:
            catch_all = isinstance(match, Map) and not match.entries
            matches = [_matcher(Ref(name, _key_mark(match, name)), value, r)
                       for name, value in fields.items()]
    ladder: tuple[StepSpec, ...] | None = None
    if "ladder" in values:
        steps = r.items(values["ladder"], '"ladder"', "a list of levels")
        ladder = tuple(_step(item, r) for item in steps) if steps is not None else None
    return RuleSpec(
        mark=node.mark,
        id=rule_id,
        description=description,
        matches=tuple(matches),
        catch_all=catch_all,
        calendar=ref_of(values["calendar"], '"calendar"', "a calendar name", r)
        if "calendar" in values else None,
        calendar_written="calendar" in values,
        warn_at=_warn_at(values["warn_at"], r) if "warn_at" in values else UNSET,
        closing=_closing(values["closing"], r) if "closing" in values else ClosingSpec(),
        ladder=ladder,
        ladder_mark=values["ladder"].mark if "ladder" in values else None,
        urging=parse_urging(values["urging"], r) if "urging" in values else None,
        parking=parse_parking(values["parking"], r) if "parking" in values else None,
        returns=parse_returns(values["returns"], r) if "returns" in values else UNSET,
        extensions=parse_extensions(values["extensions"], r) if "extensions" in values
        else UNSET,
    )


def _key_mark(node: YNode, name: str) -> Mark:
    assert isinstance(node, Map)
    return next(key.mark for key, _ in node.entries if key.name == name)


def _matcher(field_ref: Ref, node: YNode, r: Reader) -> MatchSpec:
    field_name: MatchField = field_ref.name  # type: ignore[assignment]  # fields() allowed only MATCH_FIELDS
    label = f'match "{field_ref.name}"'
    what = "a value, a list, {regex: R}, {not: V} or {not_regex: R}"
    if isinstance(node, Map):
        ops = r.fields(node, label, _OPERATORS)
        if ops is None:
            return MatchSpec(field_ref, (), None)
        if len(node.entries) != 1:
            r.error(node.mark, f"{label} takes exactly one of: {', '.join(_OPERATORS)}")
            return MatchSpec(field_ref, (), None)
        op, operand = next(iter(ops.items()), ("", node))
        if op == "not":
            values = _match_values(field_ref, operand, label, r)
            condition = Condition(field=field_name, values=tuple(v.name for v in values),
                                  negate=True) if values else None
            return MatchSpec(field_ref, values, condition)
        if op in ("regex", "not_regex"):
            pattern = r.text(operand, f'"{op}"', "a regular expression")
            if pattern is None or not _regex_ok(pattern, operand, r):
                return MatchSpec(field_ref, (), None)
            return MatchSpec(field_ref, (), Condition(field=field_name, regex=pattern,
                                                      negate=op == "not_regex"))
        return MatchSpec(field_ref, (), None)
    if isinstance(node, Scalar | Seq):
        values = _match_values(field_ref, node, label, r, what)
        condition = Condition(field=field_name, values=tuple(v.name for v in values)) if (
            values) else None
        return MatchSpec(field_ref, values, condition)
    return MatchSpec(field_ref, (), None)  # pragma: no cover - YNode is one of the three


def _match_values(field_ref: Ref, node: YNode, label: str, r: Reader,
                  what: str = "a value or a list of values") -> tuple[Ref, ...]:
    """The compared names; () if any is refused (the condition is then not built)."""
    items = node.items if isinstance(node, Seq) else (node,)
    if isinstance(node, Seq) and not items:
        r.error(node.mark, f"{label}: an empty list matches nothing")
        return ()
    allowed = _ALLOWED_VALUES.get(field_ref.name)
    out: list[Ref] = []
    ok = True
    for item in items:
        value = r.text(item, label, what) if item is node else r.text(item, f"{label} item")
        if value is None:
            ok = False
        elif allowed is not None and value not in allowed:
            r.error(item.mark, f'bad {field_ref.name} "{value}" (expected one of: '
                               f"{', '.join(allowed)})")
            ok = False
        else:
            out.append(Ref(value, item.mark))
    return tuple(out) if ok else ()


def _regex_ok(pattern: str, node: YNode, r: Reader) -> bool:
    try:
        re.compile(pattern)
    except re.error as exc:
        r.error(node.mark, f'bad regex "{pattern}": {exc}')
        return False
    return True


_STEP_KEYS = ("level", "respond", "resolve", "escalate_on")
_DEPARTMENT_REFUSED = {
    "respond": "does not apply to the department level: its limits come from the route",
    "resolve": "does not apply to the department level: its limits come from the route",
    "escalate_on": "does not apply to the department level: there is no level above it",
}


def _step(node: YNode, r: Reader) -> StepSpec:
    level_node = node.get("level") if isinstance(node, Map) else None
    is_department = isinstance(level_node, Scalar) and level_node.value == "department"
    # Until the level is known, only "level" is required (resolve is not, at department).
    required = ("level",) if is_department or level_node is None else ("level", "resolve")
    values = r.fields(node, "ladder step", _STEP_KEYS, required,
                      _DEPARTMENT_REFUSED if is_department else None)
    if values is None:
        return StepSpec(None, None)
    level = r.choice(values["level"], '"level"', LEVELS) if "level" in values else None
    ref = Ref(level, values["level"].mark) if level is not None else None
    if is_department:
        return StepSpec(ref, Step(level="department"))
    respond = r.duration(values["respond"], '"respond"') if "respond" in values else None
    resolve = r.duration(values["resolve"], '"resolve"') if "resolve" in values else None
    escalate = _escalate_on(values["escalate_on"], r) if "escalate_on" in values else (
        "respond", "resolve")
    if level is None or resolve is None or escalate is None or (
        respond is None and "respond" in values
    ):
        return StepSpec(ref, None)
    try:
        step = Step(level=level, respond=respond, resolve=resolve,
                    escalate_on_respond_overdue="respond" in escalate,
                    escalate_on_resolve_overdue="resolve" in escalate)
    except ValidationError as exc:  # pragma: no cover - every field was checked above
        r.error(node.mark, str(exc))
        return StepSpec(ref, None)
    return StepSpec(ref, step)


def _escalate_on(node: YNode, r: Reader) -> tuple[str, ...] | None:
    items = r.items(node, '"escalate_on"', "a list of respond, resolve")
    if items is None:
        return None
    out: list[str] = []
    for item in items:
        name = r.choice(item, '"escalate_on"', ("respond", "resolve"))
        if name is None:
            return None
        if name in out:
            r.error(item.mark, f'"{name}" is listed twice in escalate_on')
        out.append(name)
    return tuple(out)
