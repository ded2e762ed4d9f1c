"""Stage 1 for ``claims`` and ``points``: how long a claim holds, and what earns points.

    claims:
      expire_after: 2 working days     # no act by the claimant within it: the claim expires
      max_active: 8                    # claims held at once on one issue (default 8)
      by_rule:                         # per escalation rule (optional)
        emergency: 4h

    points:
      - id: rider-report
        role: reporter                 # reporter | claimant
        on: resolved                   # resolved (default; reversed if it reopens) | satisfied
        points: 5
        kinds: [rider]                 # optional filters: person kinds, categories, severities
        categories: [illegal_parking]
        severities: [urgent, emergency]

Cross-references (``by_rule`` rule ids, categories) are checked by the loader's stage 3 with
the rest (``check_people``), from the refs kept here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import get_args

from engine.domain.calendar import Limit
from engine.domain.events import ClaimantKind, ReporterKind, Severity
from engine.domain.ruleset import DEFAULT_CLAIMS, ClaimRules, PointRule
from engine.rules.errors import Mark
from engine.rules.schema import Reader
from engine.rules.sections import Ref, label_of
from engine.rules.yamlpos import Map, Scalar, YNode

_CLAIM_KEYS = ("expire_after", "max_active", "by_rule")
_POINT_KEYS = ("id", "role", "on", "points", "kinds", "categories", "severities")
ROLES = ("reporter", "claimant")
TIMINGS = ("resolved", "satisfied")
KINDS = {"reporter": get_args(ReporterKind), "claimant": get_args(ClaimantKind)}
SEVERITIES: tuple[str, ...] = get_args(Severity)
MAX_POINTS = 100_000


@dataclass(frozen=True)
class ClaimsSpec:
    rules: ClaimRules | None  # None: refused (an error was reported)
    by_rule: tuple[Ref, ...] = ()  # rule ids named, for stage 3


@dataclass(frozen=True)
class PointSpec:
    id: Ref | None
    categories: tuple[Ref, ...]
    rule: PointRule | None


@dataclass
class PeopleSpec:
    claims: ClaimsSpec = field(default_factory=lambda: ClaimsSpec(DEFAULT_CLAIMS))
    points: list[PointSpec] = field(default_factory=list)


def parse_claims(node: YNode, r: Reader) -> ClaimsSpec:
    values = r.fields(node, '"claims"', _CLAIM_KEYS, ("expire_after",))
    if values is None:
        return ClaimsSpec(None)
    expire = r.duration(values["expire_after"], '"expire_after"') if (
        "expire_after" in values) else None
    max_active: int | None = DEFAULT_CLAIMS.max_active
    if "max_active" in values:
        max_active = r.count(values["max_active"], '"max_active"')
        if max_active == 0:
            r.error(values["max_active"].mark, '"max_active" must be at least 1')
            max_active = None
    by_rule: dict[str, Limit] = {}
    refs: list[Ref] = []
    ok = True
    if "by_rule" in values:
        node_by = values["by_rule"]
        if not isinstance(node_by, Map):
            r.wrong(node_by, '"by_rule"', "a mapping of rule ids to durations")
            ok = False
        else:
            for key, value in node_by.entries:
                refs.append(Ref(key.name, key.mark))
                limit = r.duration(value, f'"by_rule" of rule "{key.name}"')
                ok = ok and limit is not None
                if limit is not None:
                    by_rule[key.name] = limit
    if expire is None or max_active is None or not ok:
        return ClaimsSpec(None, tuple(refs))
    return ClaimsSpec(ClaimRules(expire_after=expire, by_rule=by_rule, max_active=max_active),
                      tuple(refs))


def parse_points(node: YNode, r: Reader) -> list[PointSpec]:
    items = r.items(node, '"points"', "a list of point rules")
    return [_point(item, r) for item in items or ()]


def _point(node: YNode, r: Reader) -> PointSpec:
    label = label_of(node, "point rule")
    values = r.fields(node, label, _POINT_KEYS, ("id", "role", "points"))
    if values is None:
        return PointSpec(None, (), None)
    ident = r.ident(values["id"], '"id"') if "id" in values else None
    ref = Ref(ident, values["id"].mark) if ident is not None else None
    role = r.choice(values["role"], '"role"', ROLES) if "role" in values else None
    on = r.choice(values["on"], '"on"', TIMINGS) if "on" in values else "resolved"
    points = _points(values["points"], r) if "points" in values else None
    kinds: tuple[str, ...] | None = ()
    if "kinds" in values:
        allowed = KINDS.get(role or "", (*KINDS["reporter"],))
        kinds = _names(values["kinds"], '"kinds"', r, _one_of(allowed, "kind", r))
    severities = _names(values["severities"], '"severities"', r,
                        _one_of(SEVERITIES, "severity", r)) if "severities" in values else ()
    categories: list[Ref] = []
    cats_ok = True
    if "categories" in values:
        for item in r.items(values["categories"], '"categories"', "a list of category ids") or ():
            name = r.text(item, '"categories" item', "a category id")
            cats_ok = cats_ok and name is not None
            if name is not None:
                categories.append(Ref(name, item.mark))
    model = None
    if (ref is not None and role in ROLES and on in TIMINGS and points is not None
            and kinds is not None and severities is not None and cats_ok):
        model = PointRule(id=ref.name, role=role, on=on, points=points,
                          kinds=kinds, categories=tuple(c.name for c in categories),
                          severities=severities)
    return PointSpec(ref, tuple(categories), model)


def _points(node: YNode, r: Reader) -> int | None:
    value = node.value if isinstance(node, Scalar) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_POINTS:
        r.wrong(node, '"points"', f"a whole number from 1 to {MAX_POINTS}")
        return None
    return value


def _one_of(allowed: tuple[str, ...], what: str, r: Reader) -> Callable[[YNode], str | None]:
    def read(node: YNode) -> str | None:
        name = r.text(node, f'"{what}"', f"a {what}")
        if name is not None and name not in allowed:
            r.error(node.mark, f'bad {what} "{name}" (expected one of: {", ".join(allowed)})')
            return None
        return name
    return read


def _names(node: YNode, label: str, r: Reader,
           read: Callable[[YNode], str | None]) -> tuple[str, ...] | None:
    """A list of names (or one name), each read by ``read``; None if any was refused."""
    items = (node,) if isinstance(node, Scalar) else r.items(node, label, "a list")
    if items is None:
        return None
    names = [read(item) for item in items]
    return None if any(n is None for n in names) else tuple(n for n in names if n is not None)


def check_people(spec: PeopleSpec, rule_ids: set[str] | None, categories: set[str] | None,
                 r: Reader, unknown: Callable[[str, str, set[str]], str]) -> None:
    """Stage 3: rule ids in ``claims.by_rule``, categories of point rules; duplicate point ids."""
    if rule_ids is not None:
        for ref in spec.claims.by_rule:
            if ref.name not in rule_ids:
                r.error(ref.mark, unknown("rule", ref.name, rule_ids))
    if categories is not None:
        for point in spec.points:
            for ref in point.categories:
                if ref.name not in categories:
                    r.error(ref.mark, unknown("category", ref.name, categories))
    seen: dict[str, Mark] = {}
    for point in spec.points:
        if point.id is None:
            continue
        first = seen.setdefault(point.id.name, point.id.mark)
        if first != point.id.mark:
            r.error(point.id.mark, f'duplicate point rule id "{point.id.name}" (first at '
                                   f"{first.short(point.id.mark.file)})")
