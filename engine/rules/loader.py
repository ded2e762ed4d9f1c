"""Load a rules directory into a ``Ruleset``, reporting every error at once with file:line:col.

Stages, as in alertmanager's config loader but without stopping at the first error:

0. read the files (name order), hash them into the version, split them into sections;
1. strict parse of each section (``sections``): unknown and duplicate keys, wrong types, missing
   keys, bad durations, regexes and warning points;
2. defaults applied to each rule (calendar, warn_at, closing);
3. cross-references: streets, departments, categories and calendars that do not exist, and ids
   used twice;
4. graph checks: ladders that go down or repeat a level, an empty ladder, rules after the
   catch-all, no catch-all, a ladder reaching departments without a ``default`` route.

Every stage runs even when an earlier one found errors, on what could be read: a value that was
refused is left out, and the checks that depend on a section that could not be read at all are
skipped rather than reporting a cascade of "unknown" errors. The ``Ruleset`` is built only when
no stage reported anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

from engine.domain.calendar import Limit
from engine.domain.ruleset import (
    LEVEL_RANK,
    Closing,
    Department,
    Grid,
    OrgRegistry,
    Rule,
    Ruleset,
    Street,
    Village,
)
from engine.rules.calendar_section import CalendarSpec, data_warning, parse_calendars
from engine.rules.durations import parse_duration
from engine.rules.errors import Mark, Problems, RuleError, unknown
from engine.rules.people_section import PeopleSpec, check_people, parse_claims, parse_points
from engine.rules.returns_section import (
    ExtensionsSpec,
    ReturnsSpec,
    check_above,
    check_units,
    effective,
)
from engine.rules.rule_section import (
    ClosingSpec,
    DefaultsSpec,
    RuleSpec,
    parse_defaults,
    parse_rules,
)
from engine.rules.schema import Reader
from engine.rules.sections import (
    UNSET,
    OrgSpec,
    Ref,
    RouteSpec,
    parse_categories,
    parse_org,
    parse_routes,
)
from engine.rules.workflow_section import check_names
from engine.rules.yamlpos import Map, YNode, describe, load_yaml

T = TypeVar("T")

SECTIONS = ("org", "calendars", "categories", "routes", "defaults", "rules", "claims", "points")
REQUIRED_SECTIONS = ("org", "rules")
SUFFIXES = (".yaml", ".yml")
#: A China calendar whose holiday data ends within this many days is worth a warning.
CALENDAR_WARN_DAYS = 60
DEFAULT_WARN_AT = 0.8
DEFAULT_CLOSING = Closing(rating_window=parse_duration("3d"), max_reopens=1)


@dataclass(frozen=True)
class LoadResult:
    """The compiled rule set (None if there is any error), the errors sorted by position,
    warnings, the files read and the directory's version."""

    ruleset: Ruleset | None
    errors: tuple[RuleError, ...]
    warnings: tuple[str, ...]
    files: tuple[str, ...]
    version: str = ""

    @property
    def ok(self) -> bool:
        return self.ruleset is not None


@dataclass
class _Sections:
    files: list[str] = field(default_factory=list)
    version: str = ""
    first: dict[str, tuple[Mark, YNode]] = field(default_factory=dict)  # all but rules
    rules: list[tuple[Mark, YNode]] = field(default_factory=list)
    unreadable: bool = False  # a file could not be parsed: it may hold any section


@dataclass
class _Parsed:
    org: OrgSpec | None = None
    calendars: list[CalendarSpec] | None = field(default_factory=list)  # None: unreadable
    categories: dict[str, Ref] | None = None  # None: not defined (no category checks)
    routes: list[RouteSpec] | None = field(default_factory=list)  # None: unreadable
    defaults: DefaultsSpec = field(default_factory=DefaultsSpec)
    rules: list[RuleSpec] = field(default_factory=list)
    rules_unreadable: bool = False  # a rules section was not a list: its rules are unknown
    people: PeopleSpec = field(default_factory=PeopleSpec)  # claims and points
    unreadable: bool = False  # a file could not be parsed (its rules are unknown)


@dataclass(frozen=True)
class _Settings:
    """A rule's calendar, warning point and closing once the defaults are applied."""

    calendar: Ref | None
    warn_at: float | None
    closing: Closing
    returns: ReturnsSpec | None = None
    extensions: ExtensionsSpec | None = None


def load_ruleset(directory: Path, *, today: date | None = None) -> LoadResult:
    """Read, check and compile the rules in ``directory`` (``today`` is for calendar warnings,
    default the current UTC date)."""
    problems = Problems()
    reader = Reader(problems)
    sections = _read(directory, problems)
    parsed = _parse(sections, reader, Mark(str(directory)))
    settings = [_apply_defaults(rule, parsed.defaults, reader) for rule in parsed.rules]
    _check_references(parsed, reader)
    _check_workflow(parsed, settings, reader)
    _check_graph(parsed, sections, reader)
    _warn_calendars(parsed, today or datetime.now(UTC).date(), problems)
    errors = tuple(sorted(set(problems.errors)))
    ruleset = None if errors else _compile(parsed, settings, sections.version)
    return LoadResult(ruleset, errors, tuple(problems.warnings), tuple(sections.files),
                      sections.version)


# --- stage 0: files and sections -------------------------------------------------------------


def _read(directory: Path, problems: Problems) -> _Sections:
    out = _Sections()
    if not directory.is_dir():
        problems.error(Mark(str(directory)), "not a directory")
        return out
    # Dot files are editor droppings (.#rules.yaml, .rules.yaml.swp), never rules.
    paths = sorted(
        (p for p in directory.iterdir()
         if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    if not paths:
        problems.error(Mark(str(directory)), "no rule files (*.yaml, *.yml)")
    digest = hashlib.sha256()
    for path in paths:
        display = str(path)
        out.files.append(display)
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            col = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
            problems.error(Mark(display, line, col), "not UTF-8 text")
            out.unreadable = True
            continue
        before = len(problems.errors)
        root = load_yaml(text, display, problems)
        if root is None:
            if len(problems.errors) > before:
                out.unreadable = True  # a syntax error
            else:
                problems.warn(f"{display}: empty file")
            continue
        if not isinstance(root, Map):
            out.unreadable = True
            problems.error(root.mark, "a rule file is a mapping of sections "
                                      f"({', '.join(SECTIONS)}), got {describe(root)}")
            continue
        for key, value in root.entries:
            if key.name not in SECTIONS:
                problems.error(key.mark, f'unknown section "{key.name}" (expected one of: '
                                         f"{', '.join(SECTIONS)})")
            elif key.name == "rules":
                out.rules.append((key.mark, value))
            elif key.name in out.first:
                first = out.first[key.name][0]
                problems.error(key.mark, f'duplicate section "{key.name}" (first at '
                                         f'{first.short(display)}; only "rules" may appear in '
                                         "several files)")
            else:
                out.first[key.name] = (key.mark, value)
    out.version = digest.hexdigest()[:12]
    return out


# --- stage 1: strict parse -------------------------------------------------------------------


def _parse(sections: _Sections, r: Reader, where: Mark) -> _Parsed:
    parsed = _Parsed()
    found = set(sections.first) | ({"rules"} if sections.rules else set())
    if sections.files and not sections.unreadable:
        for name in REQUIRED_SECTIONS:
            if name not in found:
                r.error(where, f'no file defines "{name}"')
    parsed.unreadable = sections.unreadable
    if sections.unreadable:
        # A file that could not be parsed may hold any section: checks against a section that
        # was not found are skipped rather than reporting everything it defines as unknown.
        parsed.calendars = None
        parsed.routes = None
    if "org" in sections.first:
        parsed.org = parse_org(sections.first["org"][1], r)
    if "calendars" in sections.first:
        parsed.calendars = parse_calendars(sections.first["calendars"][1], r)
    if "categories" in sections.first:
        parsed.categories = parse_categories(sections.first["categories"][1], r)
    if "routes" in sections.first:
        parsed.routes = parse_routes(sections.first["routes"][1], r)
    if "defaults" in sections.first:
        parsed.defaults = parse_defaults(sections.first["defaults"][1], r)
    if "claims" in sections.first:
        parsed.people.claims = parse_claims(sections.first["claims"][1], r)
    if "points" in sections.first:
        parsed.people.points = parse_points(sections.first["points"][1], r)
    for _, node in sections.rules:
        rules = parse_rules(node, r)
        parsed.rules.extend(rules or ())
        parsed.rules_unreadable |= rules is None
    return parsed


# --- stage 2: defaults -----------------------------------------------------------------------


def _apply_defaults(rule: RuleSpec, defaults: DefaultsSpec, r: Reader) -> _Settings:
    calendar = rule.calendar or defaults.calendar
    if not rule.calendar_written and not defaults.calendar_written:
        r.error(rule.mark, f'{rule.title} has no calendar: set "calendar" in the rule or in '
                           "defaults")
    warn_at = rule.warn_at if rule.warn_at is not UNSET else defaults.warn_at
    return _Settings(
        calendar=calendar,
        warn_at=DEFAULT_WARN_AT if warn_at is UNSET else warn_at,
        closing=Closing(
            rating_window=_first_limit(rule.closing, defaults.closing),
            max_reopens=_first_count(rule.closing, defaults.closing),
        ),
        returns=effective(rule.returns, defaults.returns),  # type: ignore[arg-type]
        extensions=effective(rule.extensions, defaults.extensions),  # type: ignore[arg-type]
    )


def _first_limit(*specs: ClosingSpec) -> Limit:
    return next((s.rating_window for s in specs if s.rating_window is not None),
                DEFAULT_CLOSING.rating_window)


def _first_count(*specs: ClosingSpec) -> int:
    return next((s.max_reopens for s in specs if s.max_reopens is not None),
                DEFAULT_CLOSING.max_reopens)


# --- stage 3: cross-references ---------------------------------------------------------------


def _check_references(parsed: _Parsed, r: Reader) -> None:
    org = parsed.org
    if org is not None:
        seen: dict[str, Mark] = {}
        for unit in org.units:
            first = seen.setdefault(unit.ref.name, unit.ref.mark)
            if first != unit.ref.mark:
                r.error(unit.ref.mark, f'duplicate id "{unit.ref.name}" (first at '
                                       f"{first.short(unit.ref.mark.file)})")
    departments = org.ids("department") if org and org.departments_read else None
    streets = org.ids("street") if org and org.streets_read else None
    categories = set(parsed.categories) if parsed.categories is not None else None

    def check(ref: Ref | None, what: str, known: set[str] | None) -> None:
        if ref is not None and known is not None and ref.name not in known:
            r.error(ref.mark, unknown(what, ref.name, known))

    for route in parsed.routes or ():
        if route.category.name != "default":
            check(route.category, "category", categories)
        for ref in (route.lead, *route.co):
            check(ref, "department", departments)
        named: dict[str, Ref] = {route.lead.name: route.lead} if route.lead else {}
        for ref in route.co:
            if ref.name in named:
                role = "the lead" if named[ref.name] is route.lead else "co"
                r.error(ref.mark, f'department "{ref.name}" is already {role} of this route '
                                  f"(line {named[ref.name].mark.line})")
            named.setdefault(ref.name, ref)

    calendars = {c.ref.name for c in parsed.calendars} if parsed.calendars is not None else None
    check(parsed.defaults.calendar, "calendar", calendars)
    rule_ids: dict[str, Mark] = {}
    for rule in parsed.rules:
        if rule.calendar is not None:
            check(rule.calendar, "calendar", calendars)
        for matcher in rule.matches:
            known = {"category": categories, "street": streets}.get(matcher.field.name)
            for value in matcher.values:
                check(value, matcher.field.name, known)
        units = org.ids("street") | org.ids("village") | org.ids("grid") | org.ids(
            "department") if org and org.streets_read and org.departments_read else None
        for spec in (rule.urging, rule.parking):
            if spec is not None:
                check_names(spec.names, units, r)
        if rule.id is not None:
            first = rule_ids.setdefault(rule.id.name, rule.id.mark)
            if first != rule.id.mark:
                r.error(rule.id.mark, f'duplicate rule id "{rule.id.name}" (first at '
                                      f"{first.short(rule.id.mark.file)})")
    complete = not (parsed.rules_unreadable or parsed.unreadable) and all(
        rule.id is not None for rule in parsed.rules)
    check_people(parsed.people, set(rule_ids) if complete else None, categories, r, unknown)


def _check_workflow(parsed: _Parsed, settings: list[_Settings], r: Reader) -> None:
    """Returns and extensions: their units exist; ``level_above`` has a unit above a street."""
    org = parsed.org
    known = {u.ref.name for u in org.units} if (
        org and org.streets_read and org.departments_read) else None
    for spec in (parsed.defaults.returns, parsed.defaults.extensions,
                 *(s for rule in parsed.rules for s in (rule.returns, rule.extensions))):
        if isinstance(spec, ReturnsSpec | ExtensionsSpec):
            check_units(spec, known, r)
    reported: set[Mark] = set()
    for rule, setting in zip(parsed.rules, settings, strict=True):
        levels = {s.level.name for s in rule.ladder or () if s.level is not None}
        check_above(setting.returns, levels, rule.title, reported, r)
        check_above(setting.extensions, levels, rule.title, reported, r)


# --- stage 4: graph checks -------------------------------------------------------------------


def _check_graph(parsed: _Parsed, sections: _Sections, r: Reader) -> None:
    reaching: list[tuple[RuleSpec, Mark]] = []  # rules whose ladder reaches departments
    for rule in parsed.rules:
        if rule.ladder is None:
            continue
        if not rule.ladder:
            r.error(rule.ladder_mark or rule.mark, f"{rule.title} has an empty ladder: list "
                                                   "the levels it climbs")
        seen: dict[str, Mark] = {}
        top: str | None = None
        for step in rule.ladder:
            if step.level is None:
                continue
            level, mark = step.level.name, step.level.mark
            if level in seen:
                r.error(mark, f'ladder repeats level "{level}" (first at line '
                              f"{seen[level].line})")
            elif top is not None and LEVEL_RANK[level] < LEVEL_RANK[top]:
                r.error(mark, f"ladder goes down: {level} after {top}")
            seen.setdefault(level, mark)
            if top is None or LEVEL_RANK[level] > LEVEL_RANK[top]:
                top = level
        if "department" in seen:
            reaching.append((rule, seen["department"]))

    routes = parsed.routes
    if reaching and routes is not None and all(rt.category.name != "default" for rt in routes):
        rule, mark = reaching[0]
        more = f" (and {len(reaching) - 1} more rules)" if len(reaching) > 1 else ""
        r.error(mark, f'{rule.title} reaches the department level but routes has no "default" '
                      f"route for categories without their own{more}")

    catch_all: RuleSpec | None = None
    for rule in parsed.rules:
        if catch_all is not None:
            r.error(rule.mark, f"{rule.title} is unreachable: {catch_all.title} above it "
                               "matches everything")
        elif rule.catch_all:
            catch_all = rule
    if sections.unreadable or parsed.rules_unreadable:
        return  # the missing rules may include the catch-all
    if catch_all is None and parsed.rules:
        last = parsed.rules[-1]
        r.error(last.mark, f'no catch-all rule: the last rule, {last.title.removeprefix("rule ")}'
                           ', has a match; end with a rule without "match"')
    elif not parsed.rules and sections.rules:
        r.error(sections.rules[0][0], "no rules: add at least a catch-all rule (no \"match\")")


# --- warnings --------------------------------------------------------------------------------


def _warn_calendars(parsed: _Parsed, today: date, problems: Problems) -> None:
    for spec in parsed.calendars or ():
        message = data_warning(spec, today, CALENDAR_WARN_DAYS)
        if message:
            problems.warn(message)


# --- compile ---------------------------------------------------------------------------------


def _compile(parsed: _Parsed, settings: list[_Settings], version: str) -> Ruleset:
    """The ``Ruleset``; only called when no stage reported an error, so every piece is there
    (``_built`` turns a stage that let a refused piece through without an error into a crash,
    never into a silently smaller rule set)."""
    units = parsed.org.units if parsed.org else []
    models = [_built(u.model, u.ref.mark) for u in units]
    registry = OrgRegistry(
        streets={m.id: m for m in models if isinstance(m, Street)},
        villages={m.id: m for m in models if isinstance(m, Village)},
        grids={m.id: m for m in models if isinstance(m, Grid)},
        departments={m.id: m for m in models if isinstance(m, Department)},
    )
    rules = []
    for spec, setting in zip(parsed.rules, settings, strict=True):
        rules.append(Rule(
            id=_built(spec.id, spec.mark).name,
            description=spec.description,
            match=tuple(_built(m.condition, m.field.mark) for m in spec.matches),
            calendar=_built(setting.calendar, spec.mark).name,
            ladder=tuple(_built(s.step, spec.mark) for s in _built(spec.ladder, spec.mark)),
            warn_at=setting.warn_at,
            closing=setting.closing,
            returns=_built(setting.returns.model, spec.mark) if setting.returns else None,
            extensions=_built(setting.extensions.model, spec.mark) if setting.extensions
            else None,
            source=f"{Path(spec.mark.file).name}:{spec.mark.line}",
            urging=_built(spec.urging.urging, spec.mark) if spec.urging else None,
            parking=_built(spec.parking.parking, spec.mark) if spec.parking else None,
        ))
    return Ruleset(
        version=version,
        registry=registry,
        calendars={c.ref.name: _built(c.calendar, c.ref.mark) for c in parsed.calendars or ()},
        rules=tuple(rules),
        routes={r.category.name: _built(r.route, r.category.mark) for r in parsed.routes or ()},
        categories={k: ref.name for k, ref in (parsed.categories or {}).items()},
        claims=_built(parsed.people.claims.rules, Mark("claims")),
        points=tuple(_built(p.rule, Mark("points")) for p in parsed.people.points),
    )


def _built(piece: T | None, mark: Mark) -> T:
    if piece is None:
        raise AssertionError(f"{mark.file}:{mark.line}: refused without an error (a loader bug)")
    return piece
