"""The compiled rule set the core decides with: org registry, rules, routes and calendars.

These are the *compiled* forms: the loader in ``engine.rules`` turns YAML into them after every
check has passed, so the core can trust them (every referenced unit, route and calendar exists,
ladders only go up).
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict

from engine.domain.calendar import Limit, WorkingCalendar

Level = Literal["grid", "village", "street", "department"]
LEVELS: tuple[Level, ...] = ("grid", "village", "street", "department")
LEVEL_RANK: dict[str, int] = {name: i for i, name in enumerate(LEVELS)}

_MEMO_SIZE = 4096  # distinct raise facts remembered per rule set (a bounded cache)

MatchField = Literal["category", "severity", "reporter", "source", "street"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the org registry -------------------------------------------------------------------


class Street(Frozen):
    id: str
    name: str
    kind: Literal["street", "town", "zone"] = "street"


class Village(Frozen):
    id: str
    name: str
    street: str
    kind: Literal["village", "community"] = "community"
    sample: bool = False


class Grid(Frozen):
    id: str
    name: str
    village: str


class Department(Frozen):
    id: str
    name: str


class OrgRegistry(Frozen):
    streets: dict[str, Street]
    villages: dict[str, Village]
    grids: dict[str, Grid]
    departments: dict[str, Department]

    def village_of(self, grid: str) -> str:
        return self.grids[grid].village

    def street_of(self, grid: str) -> str:
        return self.villages[self.grids[grid].village].street

    def name_of(self, unit: str) -> str:
        for table in (self.grids, self.villages, self.streets, self.departments):
            if unit in table:
                return table[unit].name
        return unit


# --- matchers ---------------------------------------------------------------------------


class Condition(Frozen):
    """One field test: equality to any of ``values``, a regex, and optional negation."""

    field: MatchField
    values: tuple[str, ...] = ()
    regex: str | None = None
    negate: bool = False

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.regex) if self.regex is not None else None

    def test(self, value: str) -> bool:
        hit = value in self.values if self._pattern is None else bool(
            self._pattern.fullmatch(value)
        )
        return hit != self.negate

    def describe(self) -> str:
        if self.regex is not None:
            op = "!~" if self.negate else "=~"
        else:
            op = "!=" if self.negate else "="
        rhs = self.regex if self.regex is not None else "|".join(self.values)
        return f"{self.field}{op}{rhs}"


class Facts(Frozen):
    """What matchers look at, taken from an ``issue.raised`` event and the registry."""

    category: str
    severity: str
    reporter: str
    source: str
    street: str

    def get(self, field: MatchField) -> str:
        return str(getattr(self, field))


# --- ladders, routes, closing -------------------------------------------------------------


class Step(Frozen):
    """One rung of a ladder: the level, its limits and what a missed limit does."""

    level: Level
    respond: Limit | None = None
    resolve: Limit | None = None  # None only at department level: the route's limit applies
    escalate_on_respond_overdue: bool = True
    escalate_on_resolve_overdue: bool = True


class Route(Frozen):
    """Department routing for a category: lead (主办) and co-handlers (协办) with their limits."""

    category: str
    lead: str
    co: tuple[str, ...] = ()
    report: Limit
    resolve: Limit
    progress_every: Limit | None = None


class Closing(Frozen):
    rating_window: Limit
    max_reopens: int = 1


class ClaimRules(Frozen):
    """How long a claim holds without an act by its claimant, and how many may be held at once."""

    expire_after: Limit
    by_rule: dict[str, Limit] = {}  # escalation rule id -> its own expiry
    max_active: int = 8

    def expiry(self, rule: str) -> Limit:
        return self.by_rule.get(rule) or self.expire_after


DEFAULT_CLAIMS = ClaimRules(expire_after=Limit(amount=3, unit="days", text="3d"))

PointRole = Literal["reporter", "claimant"]
PointTiming = Literal["resolved", "satisfied"]


class PointRule(Frozen):
    """Points for a person of ``role`` when an issue matching the filters is resolved (reversed
    if it reopens or is withdrawn) or closes with a satisfied rating (final). Empty filter: any.
    For each person and timing the first matching point rule awards (docs/points.md)."""

    id: str
    role: PointRole
    on: PointTiming = "resolved"
    points: int
    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()

    def applies(self, role: str, on: str, kind: str, category: str, severity: str) -> bool:
        return (self.role == role and self.on == on
                and (not self.kinds or kind in self.kinds)
                and (not self.categories or category in self.categories)
                and (not self.severities or severity in self.severities))


class UrgeStep(Frozen):
    """One step of an urging ladder: ``after`` the limit was missed (None: at the miss), who
    is copied (``above``: the rung above the holder's; ``street``/``village``: the issue's;
    else a unit id), and whether this step makes the issue a supervision case (督办)."""

    after: Limit | None = None
    copy_to: tuple[str, ...] = ()
    supervise: bool = False


class Urging(Frozen):
    """The urging ladder (催办 -> 督办) of a rule, relative to a missed ``limit`` while the
    issue stays with its holder. ``decay``: no two urgings of one issue closer than this."""

    limit: Literal["respond", "resolve"] = "resolve"
    decay: Limit | None = None
    steps: tuple[UrgeStep, ...]


class Parking(Frozen):
    """Parking (挂账): who approves (``above``, ``street``, ``village`` or unit ids) and how far
    ahead a review date may be set."""

    approvers: tuple[str, ...]
    max_review: Limit | None = None


class Returns(Frozen):
    """Returns (退单): who adjudicates a holder's "not ours", within what window, how often.

    ``adjudicator``: ``level_above`` (a grid's village, a village's street, the departments'
    street; a street's ``dispatcher``) or a unit id. ``pause``: the unit's limits stop while a
    return is pending (moved on by the paused working time if it is rejected)."""

    adjudicator: str = "level_above"
    dispatcher: str | None = None
    window: Limit
    max: int = 2
    pause: bool = False


class ExtensionTier(Frozen):
    up_to: Limit  # an extension ending no later than this past the current limit
    approver: str  # level_above (as for returns) or a unit id


class Extensions(Frozen):
    """Extensions (延期) of a unit's resolve limit: approvers by length, and caps."""

    tiers: tuple[ExtensionTier, ...]  # by growing ``up_to``; the last one is the longest
    max: int = 2  # approved extensions per assignment (one unit's stay on a level)
    max_total: Limit | None = None  # all of them together, past the limit first set
    dispatcher: str | None = None


class Rule(Frozen):
    id: str
    description: str = ""
    match: tuple[Condition, ...] = ()
    calendar: str
    ladder: tuple[Step, ...]
    warn_at: float | None = 0.8
    closing: Closing
    returns: Returns | None = None  # None: returns are not taken under this rule
    extensions: Extensions | None = None
    source: str = ""  # FILE:LINE of the rule, for explain/show
    urging: Urging | None = None  # supervision (engine.domain.urging)
    parking: Parking | None = None  # parking (engine.domain.parking); None: not allowed

    def matches(self, facts: Facts) -> bool:
        return all(c.test(facts.get(c.field)) for c in self.match)

    def step_index(self, level: str) -> int | None:
        for i, step in enumerate(self.ladder):
            if step.level == level:
                return i
        return None


class Ruleset(Frozen):
    version: str
    registry: OrgRegistry
    calendars: dict[str, WorkingCalendar]
    rules: tuple[Rule, ...]
    routes: dict[str, Route]  # by category; key "default" is the fallback
    categories: dict[str, str] = {}  # known category id -> display name
    claims: ClaimRules = DEFAULT_CLAIMS  # the ``claims`` section, or these defaults
    points: tuple[PointRule, ...] = ()

    def match(self, facts: Facts) -> Rule:
        for rule in self.rules:
            if rule.matches(facts):
                return rule
        # The loader guarantees a catch-all as the last rule; this is the belt to its braces.
        return self.rules[-1]

    def match_fields(self, category: str, severity: str, reporter: str, source: str,
                     street: str) -> Rule:
        """``match(Facts(...))`` of these fields, memoised: the first match depends on them
        alone, and a raise would otherwise build the facts and test every rule before it."""
        rules, memo = self._memo
        if rules is not self.rules:  # a model_copy(update=...) carried a stale cache along
            del self.__dict__["_memo"]
            rules, memo = self._memo
        key = (category, severity, reporter, source, street)
        found = memo.get(key)
        if found is None:
            found = self.match(Facts(category=category, severity=severity, reporter=reporter,
                                     source=source, street=street))
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[key] = found
        return found

    @cached_property
    def _memo(self) -> tuple[tuple[Rule, ...], dict[tuple[str, ...], Rule]]:
        return self.rules, {}

    @cached_property
    def _by_id(self) -> tuple[tuple[Rule, ...], dict[str, Rule]]:
        return self.rules, {rule.id: rule for rule in self.rules}

    def rule(self, rule_id: str) -> Rule | None:
        rules, by_id = self._by_id
        if rules is not self.rules:  # a model_copy(update=...) carried a stale cache along
            del self.__dict__["_by_id"]
            rules, by_id = self._by_id
        return by_id.get(rule_id)

    def route(self, category: str) -> Route:
        return self.routes.get(category) or self.routes["default"]
