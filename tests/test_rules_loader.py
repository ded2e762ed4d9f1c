"""The rule loader's pieces, table-driven: durations, warning points, matchers, YAML positions,
and the valid base set compiled into exactly the Ruleset its YAML describes."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import pytest

from engine.domain.calendar import Limit, WorkingCalendar
from engine.domain.ruleset import Closing, Condition, Facts, Route, Step
from engine.rules import LoadResult, RuleError, load_ruleset, parse_duration
from engine.rules.calendars import china_calendar
from engine.rules.durations import parse_warn_at
from engine.rules.errors import Problems
from engine.rules.rule_section import parse_rules
from engine.rules.schema import Reader
from engine.rules.yamlpos import Map, Scalar, Seq, load_yaml

VALID = Path(__file__).parent / "testdata" / "rules" / "valid"
TODAY = date(2026, 11, 27)


def wall(amount: int, unit: str, text: str) -> Limit:
    return Limit(amount=amount, unit=unit, text=text)


def working(amount: int, unit: str, text: str) -> Limit:
    return Limit(amount=amount, unit=unit, working=True, text=text)


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("30s", wall(30, "seconds", "30s")),
        ("30m", wall(30, "minutes", "30m")),
        ("4h", wall(4, "hours", "4h")),
        ("7d", wall(7, "days", "7d")),
        ("1h30m", wall(5400, "seconds", "1h30m")),
        ("1d2h3m4s", wall(93784, "seconds", "1d2h3m4s")),
        ("2 working hours", working(2, "hours", "2 working hours")),
        ("1 working hour", working(1, "hours", "1 working hour")),
        ("90 working minutes", working(90, "minutes", "90 working minutes")),
        ("30 working seconds", working(30, "seconds", "30 working seconds")),
        ("3 working days", working(3, "days", "3 working days")),
        ("1 working day", working(1, "days", "1 working day")),
        ("  4h ", wall(4, "hours", "4h")),
    ],
)
def test_parse_duration_reads_wall_and_working_time(text: str, limit: Limit) -> None:
    assert parse_duration(text) == limit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0m", 'bad duration "0m": a limit must be longer than zero'),
        ("0h0m", 'bad duration "0h0m": a limit must be longer than zero'),
        ("0 working days", 'bad duration "0 working days": a limit must be longer than zero'),
        ("-5m", 'bad duration "-5m": a limit cannot be negative'),
        ("-1 working day", 'bad duration "-1 working day": a limit cannot be negative'),
        ("1.5h", 'bad duration "1.5h": fractions are not allowed; write 90m'),
        ("0.25h", 'bad duration "0.25h": fractions are not allowed; write 15m'),
        ("2.5d", 'bad duration "2.5d": fractions are not allowed; write 60h'),
        ("1.5 working hours",
         'bad duration "1.5 working hours": fractions are not allowed; write 90 working minutes'),
        ("0.5 working days",
         'bad duration "0.5 working days": fractions are not allowed; write it in working hours'),
        ("1.5s", 'bad duration "1.5s": fractions are not allowed; write a whole number'),
        ("2 hours",
         'bad duration "2 hours": write 2h for wall time or "2 working hours" for working time'),
        ("30", 'bad duration "30": a number needs a unit, e.g. 30m'),
        ("30m1h", 'bad duration "30m1h": write e.g. 30s, 30m, 4h, 7d, 1h30m, or N working '
                  "seconds|minutes|hours|days"),
        ("3 working weeks", 'bad duration "3 working weeks": write e.g. 30s, 30m, 4h, 7d, 1h30m, '
                            "or N working seconds|minutes|hours|days"),
        ("", 'bad duration "": write e.g. 30s, 30m, 4h, 7d, 1h30m, or N working '
             "seconds|minutes|hours|days"),
        ("99999d", 'bad duration "99999d": longer than ten years'),
    ],
)
def test_parse_duration_refuses_with_the_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "fraction"),
    [("80%", 0.8), ("50 %", 0.5), ("80.5%", 0.805), (0.8, 0.8), (0.05, 0.05), (False, None),
     ("off", None)],
)
def test_warn_at_reads_percent_fraction_or_off(value: object, fraction: float | None) -> None:
    assert parse_warn_at(value) == fraction


@pytest.mark.parametrize("value", ["0%", "100%", "120%", 1, 0, 1.0, 0.0, 80, True, "on", "80"])
def test_warn_at_refuses_points_outside_the_limit(value: object) -> None:
    with pytest.raises(ValueError, match="bad warn_at"):
        parse_warn_at(value)


# --- matchers ---------------------------------------------------------------------------------


def compile_match(match: str) -> tuple[tuple[Condition | None, ...], list[str]]:
    problems = Problems()
    text = f"- id: r\n  match: {match}\n  ladder: [{{level: department}}]\n"
    node = load_yaml(text, "t.yaml", problems)
    assert node is not None
    rules = parse_rules(node, Reader(problems))
    assert rules is not None
    return tuple(m.condition for m in rules[0].matches), [str(e) for e in problems.errors]


@pytest.mark.parametrize(
    ("match", "conditions"),
    [
        ("{severity: emergency}", (Condition(field="severity", values=("emergency",)),)),
        ("{category: [a, b]}", (Condition(field="category", values=("a", "b")),)),
        ("{street: {not: kaifaqu}}",
         (Condition(field="street", values=("kaifaqu",), negate=True),)),
        ("{street: {not: [x, y]}}",
         (Condition(field="street", values=("x", "y"), negate=True),)),
        ('{source: {regex: "grid-app/.*"}}',
         (Condition(field="source", regex="grid-app/.*"),)),
        ('{reporter: {not_regex: "rider|hotline"}}',
         (Condition(field="reporter", regex="rider|hotline", negate=True),)),
        ("{reporter: unknown, severity: [urgent, emergency]}",
         (Condition(field="reporter", values=("unknown",)),
          Condition(field="severity", values=("urgent", "emergency")))),
        ("{}", ()),
    ],
)
def test_matcher_compiles_each_form(match: str, conditions: tuple[Condition, ...]) -> None:
    assert compile_match(match) == (conditions, [])


@pytest.mark.parametrize(
    ("match", "error"),
    [
        ("{severity: critical}",
         't.yaml:2:21: bad severity "critical" (expected one of: normal, urgent, emergency)'),
        ("{reporter: robot}", 't.yaml:2:21: bad reporter "robot" (expected one of: resident, '
                              "grid_worker, party_member, volunteer, rider, hotline, unknown)"),
        ("{category: []}", 't.yaml:2:21: match "category": an empty list matches nothing'),
        ('{source: {regex: "("}}',
         't.yaml:2:27: bad regex "(": missing ), unterminated subpattern at position 0'),
        ("{source: {regex: a, not: b}}",
         't.yaml:2:19: match "source" takes exactly one of: regex, not, not_regex'),
        ("{source: {like: a}}",
         't.yaml:2:20: unknown key "like" (expected one of: regex, not, not_regex)'),
        ("{grid: g1}", 't.yaml:2:11: unknown key "grid" (expected one of: category, severity, '
                       "reporter, source, street)"),
        ("{category: 12}", 't.yaml:2:21: match "category" must be a value, a list, {regex: R}, '
                           "{not: V} or {not_regex: R}, got the number 12"),
        ("[a, b]", 't.yaml:2:10: "match" must be a mapping, got a list'),
    ],
)
def test_matcher_refuses_bad_forms_at_their_position(match: str, error: str) -> None:
    assert compile_match(match)[1] == [error]


@pytest.mark.parametrize(
    ("condition", "value", "hit"),
    [
        (Condition(field="category", values=("a", "b")), "b", True),
        (Condition(field="category", values=("a", "b")), "c", False),
        (Condition(field="street", values=("kaifaqu",), negate=True), "dongting", True),
        (Condition(field="street", values=("kaifaqu",), negate=True), "kaifaqu", False),
        (Condition(field="source", regex="grid-app/.*"), "grid-app/ios", True),
        (Condition(field="source", regex="grid-app/.*"), "x/grid-app/ios", False),  # full match
        (Condition(field="reporter", regex="rider|hotline", negate=True), "rider", False),
        (Condition(field="reporter", regex="rider|hotline", negate=True), "riders", True),
    ],
)
def test_compiled_condition_tests_values(condition: Condition, value: str, hit: bool) -> None:
    assert condition.test(value) is hit


# --- YAML with positions ----------------------------------------------------------------------


def test_yaml_keeps_one_based_positions_of_keys_and_values() -> None:
    problems = Problems()
    root = load_yaml("a:\n  b: [x, {c: 1}]\n", "f.yaml", problems)
    assert isinstance(root, Map) and problems.errors == []
    key, value = root.entries[0]
    assert (key.mark.line, key.mark.col) == (1, 1)
    assert isinstance(value, Map)
    inner_key, seq = value.entries[0]
    assert (inner_key.mark.line, inner_key.mark.col) == (2, 3)
    assert isinstance(seq, Seq) and (seq.mark.line, seq.mark.col) == (2, 6)
    assert [(i.mark.line, i.mark.col) for i in seq.items] == [(2, 7), (2, 10)]


def test_yaml_reports_duplicate_keys_and_keeps_the_first() -> None:
    problems = Problems()
    root = load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml", problems)
    assert [str(e) for e in problems.errors] == ['f.yaml:3:1: duplicate key "a" (first at line 1)']
    assert isinstance(root, Map) and root.get("a") == Scalar(1, root.entries[0][1].mark)


def test_yaml_dates_arrive_as_dates_when_unquoted_and_text_when_quoted() -> None:
    problems = Problems()
    root = load_yaml('a: 2027-01-01\nb: "2027-01-01"\nc: off\n', "f.yaml", problems)
    assert isinstance(root, Map)
    values = [v.value for _, v in root.entries if isinstance(v, Scalar)]
    assert values == [date(2027, 1, 1), "2027-01-01", False]


def test_yaml_merge_keys_let_explicit_keys_win() -> None:
    problems = Problems()
    root = load_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n", "f.yaml", problems)
    assert isinstance(root, Map) and problems.errors == []
    use = root.get("use")
    assert isinstance(use, Map)
    assert {k.name: v.value for k, v in use.entries if isinstance(v, Scalar)} == {"y": 3, "x": 1}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a: [1, 2\nb: 3\n", "f.yaml:2:2: yaml: expected ',' or ']', but got ':' (while parsing a "
                             "flow sequence at line 1)"),
        ('a: "open\n', "f.yaml:1:4: yaml: found unexpected end of stream (while scanning a quoted "
                       "scalar)"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2:1: yaml: expected a single document in the stream, but "
                              "found another document"),
        ("a: 2027-02-30\n", "f.yaml:1:4: yaml: bad value '2027-02-30': day is out of range for "
                            "month"),
        ("a: !thing 1\n", "f.yaml:1:4: yaml: bad value '1': could not determine a constructor "
                          "for the tag '!thing'"),
        ("a: \x00\n", "f.yaml:1:4: yaml: special characters are not allowed"),
    ],
)
def test_yaml_errors_point_at_the_offending_token(text: str, error: str) -> None:
    problems = Problems()
    load_yaml(text, "f.yaml", problems)
    assert [str(e) for e in problems.errors] == [error]


def test_rule_error_reads_file_line_col_message() -> None:
    assert str(RuleError("d/rules.yaml", 12, 14, "bad")) == "d/rules.yaml:12:14: bad"
    assert str(RuleError("d", 0, 0, "no rule files")) == "d: no rule files"


# --- the valid base set -----------------------------------------------------------------------


def load_valid() -> LoadResult:
    result = load_ruleset(VALID, today=TODAY)
    assert result.errors == () and result.warnings == ()
    assert result.ruleset is not None
    return result


def test_valid_set_lists_its_files_in_name_order() -> None:
    result = load_valid()
    assert [Path(f).name for f in result.files] == [
        "calendars.yaml", "org.yaml", "routes.yaml", "rules.yaml"]


def test_valid_set_registry_matches_the_yaml() -> None:
    rs = load_valid().ruleset
    assert rs is not None
    reg = rs.registry
    assert list(reg.streets) == ["dongting", "anzhen"]
    assert reg.streets["anzhen"].kind == "town"
    assert reg.villages["anzhen-xianfeng"].kind == "village"
    assert reg.villages["dongting-xiangyuan"].sample is True
    assert reg.villages["dongting-jinan"].kind == "community"
    assert reg.street_of("dongting-jinan-02") == "dongting"
    assert reg.village_of("anzhen-xianfeng-01") == "anzhen-xianfeng"
    assert len(reg.grids) == 4
    assert reg.name_of("housing") == "区住建局"
    assert rs.categories == {"illegal_parking": "乱停车", "garbage_sorting": "垃圾分类",
                             "parking_conversion": "停车位改造"}


def test_valid_set_routes_match_the_yaml() -> None:
    rs = load_valid().ruleset
    assert rs is not None
    assert rs.routes == {
        "illegal_parking": Route(
            category="illegal_parking", lead="traffic_police", co=("urban_management",),
            report=working(2, "hours", "2 working hours"),
            resolve=working(3, "days", "3 working days"),
            progress_every=working(1, "days", "1 working day"),
        ),
        "default": Route(
            category="default", lead="urban_management",
            report=working(4, "hours", "4 working hours"),
            resolve=working(5, "days", "5 working days"),
        ),
    }


def test_valid_set_calendars_match_the_yaml() -> None:
    rs = load_valid().ruleset
    assert rs is not None
    assert rs.calendars == {
        "office": china_calendar(
            "office",
            hours=((time(9), time(12)), (time(13, 30), time(17, 30))),
            extra_holidays=(date(2027, 1, 1), date(2027, 2, 8)),
            extra_workdays=(date(2027, 2, 20),),
            known_until_override=date(2027, 12, 31),
        ),
        "round-the-clock": WorkingCalendar(name="round-the-clock", always=True),
    }
    office = rs.calendars["office"]
    assert not office.is_working_day(date(2027, 2, 8)) and office.is_working_day(date(2027, 2, 20))
    assert office.known_until == date(2027, 12, 31)
    # data_until covers 2027 with the file's own days: the holidays by law start in 2028
    assert office.is_working_day(date(2027, 2, 5))  # the lunar New Year's eve 2027, by law off
    assert min(office.by_law) == date(2028, 1, 1) and not office.is_working_day(date(2028, 1, 26))


def test_valid_set_rules_match_the_yaml_with_defaults_applied() -> None:
    rs = load_valid().ruleset
    assert rs is not None
    default_closing = Closing(rating_window=wall(3, "days", "3d"), max_reopens=1)
    emergency, parking, catch_all = rs.rules
    assert emergency.model_dump() == {
        "id": "emergency",
        "description": "Emergencies go straight to the street, then the departments",
        "match": ({"field": "severity", "values": ("emergency",), "regex": None,
                   "negate": False},),
        "calendar": "round-the-clock",
        "ladder": (
            Step(level="street", respond=wall(15, "minutes", "15m"),
                 resolve=wall(4, "hours", "4h")).model_dump(),
            Step(level="department").model_dump(),
        ),
        "warn_at": None,
        "closing": default_closing.model_dump(),
        "returns": None,
        "extensions": None,
        "source": "rules.yaml:9",
        "urging": None,
        "parking": None,
    }
    assert parking.match == (
        Condition(field="category", values=("illegal_parking", "parking_conversion")),
        Condition(field="street", values=("anzhen",), negate=True),
        Condition(field="source", regex="grid-app/.*"),
        Condition(field="reporter", regex="rider|hotline", negate=True),
    )
    assert parking.calendar == "office" and parking.warn_at == 0.8
    assert parking.ladder[2] == Step(
        level="street", respond=working(2, "hours", "2 working hours"),
        resolve=working(3, "days", "3 working days"), escalate_on_respond_overdue=False,
    )
    assert parking.closing == Closing(rating_window=wall(7, "days", "7d"), max_reopens=1)
    assert (catch_all.id, catch_all.match, catch_all.warn_at) == ("default", (), 0.9)
    assert catch_all.ladder == (
        Step(level="grid", respond=wall(5400, "seconds", "1h30m"),
             resolve=working(2, "days", "2 working days")),
        Step(level="street", respond=working(90, "minutes", "90 working minutes"),
             resolve=working(1, "days", "1 working day")),
    )
    assert catch_all.source == "rules.yaml:32"


def test_valid_set_first_matching_rule_wins() -> None:
    rs = load_valid().ruleset
    assert rs is not None
    facts = Facts(category="illegal_parking", severity="normal", reporter="resident",
                  source="grid-app/android", street="dongting")
    assert rs.match(facts).id == "parking"
    assert rs.match(facts.model_copy(update={"street": "anzhen"})).id == "default"
    assert rs.match(facts.model_copy(update={"severity": "emergency"})).id == "emergency"


# --- version ----------------------------------------------------------------------------------


def test_version_is_stable_and_changes_with_any_byte(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(VALID, copy)
    first = load_ruleset(copy, today=TODAY)
    again = load_ruleset(copy, today=TODAY)
    assert first.ruleset is not None and len(first.version) == 12
    assert first.version == again.version == load_valid().version == first.ruleset.version
    path = copy / "routes.yaml"
    path.write_bytes(path.read_bytes().replace(b"5 working days", b"6 working days"))
    changed = load_ruleset(copy, today=TODAY)
    assert changed.ruleset is not None and changed.version != first.version
    path.write_bytes(path.read_bytes() + b"\n")  # even a byte that changes no meaning
    assert load_ruleset(copy, today=TODAY).version not in {first.version, changed.version}


def test_version_covers_file_names(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(VALID, copy)
    before = load_ruleset(copy, today=TODAY).version
    (copy / "routes.yaml").rename(copy / "routing.yaml")
    assert load_ruleset(copy, today=TODAY).version != before


# --- directory-level behaviour ----------------------------------------------------------------


def test_missing_directory_and_empty_directory_are_errors(tmp_path: Path) -> None:
    missing = load_ruleset(tmp_path / "nope")
    assert [str(e) for e in missing.errors] == [f"{tmp_path / 'nope'}: not a directory"]
    empty = load_ruleset(tmp_path)
    assert [str(e) for e in empty.errors] == [f"{tmp_path}: no rule files (*.yaml, *.yml)"]
    assert empty.ruleset is None


def test_required_sections_unknown_sections_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("")
    (tmp_path / "b.yml").write_text("rule:\n  - id: x\n")
    (tmp_path / ".hidden.yaml").write_text("not: [read")
    result = load_ruleset(tmp_path, today=TODAY)
    assert [str(e) for e in result.errors] == [
        f'{tmp_path}: no file defines "org"',
        f'{tmp_path}: no file defines "rules"',
        f'{tmp_path / "b.yml"}:1:1: unknown section "rule" (expected one of: org, calendars, '
        "categories, routes, defaults, rules, claims, points)",
    ]
    assert result.warnings == (f"{tmp_path / 'a.yaml'}: empty file",)
    assert len(result.files) == 2


def test_a_calendar_past_its_data_is_a_louder_warning(tmp_path: Path) -> None:
    shutil.copytree(VALID, tmp_path / "rules")
    result = load_ruleset(tmp_path / "rules", today=date(2028, 1, 10))
    assert result.ruleset is not None
    assert result.warnings == (
        "calendar office: holiday data ended 2027-12-31 (10 days before 2028-01-10); past it "
        "deadlines count 2028: holidays by law 01-01, 01-25..01-28, 04-04, 05-01..05-02, 05-28, "
        "10-01..10-03; estimated days off for holidays on a weekend (the next working day) "
        "01-03, 05-29, 10-04..10-05; make-up working days (调休) unknown, none counted; add the "
        "official schedule as extra_holidays/extra_workdays (and data_until) once the State "
        "Council publishes it",
    )


def test_a_broken_file_does_not_make_its_sections_unknown(tmp_path: Path) -> None:
    shutil.copytree(VALID, tmp_path / "rules")
    (tmp_path / "rules" / "calendars.yaml").write_text("calendars:\n  office: [oops\n")
    result = load_ruleset(tmp_path / "rules", today=TODAY)
    assert len(result.errors) == 1 and "yaml:" in result.errors[0].message


# --- more refusals, on the golden cases' one-file template ----------------------------------

TEMPLATE = (Path(__file__).parent / "testdata" / "rules" / "calendar_data_ends" / "rules.yaml")


def errors_after(tmp_path: Path, old: str, new: str) -> list[str]:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "rules.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    result = load_ruleset(tmp_path, today=TODAY)
    return [str(e).removeprefix(f"{tmp_path}/rules.yaml:") for e in result.errors]


@pytest.mark.parametrize(
    ("old", "new", "errors"),
    [
        ("defaults:\n  calendar: office\n", "", [
            '28:5: rule "parking" has no calendar: set "calendar" in the rule or in defaults',
            '33:5: rule "default" has no calendar: set "calendar" in the rule or in defaults',
        ]),
        ("{level: department}", "{level: department, resolve: 4h}", [
            '34:29: "resolve" does not apply to the department level: its limits come from the '
            "route"]),
        ("{kind: china,", "{kind: always,", [
            '17:26: "hours" does not apply to kind: always (24x7)']),
        ('"13:30-17:30"', '"11:30-17:30"', [
            '17:48: bad working hours "11:30-17:30": intervals must be in order and must not '
            "overlap"]),
        ('"13:30-17:30"', '"13:30-25:00"', [
            '17:48: bad working hours "13:30-25:00": write HH:MM-HH:MM, e.g. 09:00-12:00']),
        ("{kind: china,", "{kind: china, timezone: Mars/Olympus,", [
            '17:35: unknown time zone "Mars/Olympus"']),
        ("{kind: china,", "{kind: china, extra_holidays: [2027-01-01], extra_workdays: "
                          '["2027-01-01"],', [
            "17:72: 2027-01-01 is both an extra holiday (line 17) and an extra working day"]),
        ("co: [urban_management]", "co: [traffic_police]", [
            '23:10: department "traffic_police" is already the lead of this route (line 22)']),
        ("- {level: department}", "- {level: department}\n      - {level: department}", [
            '35:17: ladder repeats level "department" (first at line 34)']),
        ("{level: grid, respond: 30m, resolve: 4h}", "{level: grid, respond: 30m}", [
            '33:9: missing key "resolve" in ladder step']),
        ("{level: grid, respond: 30m, resolve: 4h}", "{level: town, resolve: 4h}", [
            '33:17: bad level "town" (expected one of: grid, village, street, department)']),
        ("  - id: parking\n", "  - id: Parking Rule\n", [
            '30:9: bad id "Parking Rule": ids use lowercase letters, digits, "_" and "-" only']),
        ("calendars:\n", "calendars:\n  office2: {kind: always, data_until: 2027-12-31}\n", [
            '17:27: "data_until" does not apply to kind: always (24x7)']),
        ("rules:\n", "rules: []\nrules:\n", [
            '30:1: duplicate key "rules" (first at line 29)',
            '29:1: no rules: add at least a catch-all rule (no "match")',
        ][::-1]),
    ],
)
def test_refusals_point_at_the_offending_token(
    tmp_path: Path, old: str, new: str, errors: list[str]
) -> None:
    assert errors_after(tmp_path, old, new) == errors


def test_rules_may_span_files_and_keep_file_order(tmp_path: Path) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    head, rules = text.split("rules:\n")
    parking, catch_all = rules.split("  - id: default\n")
    (tmp_path / "00-base.yaml").write_text(head + "rules:\n" + parking, encoding="utf-8")
    (tmp_path / "10-last.yaml").write_text("rules:\n  - id: default\n" + catch_all,
                                           encoding="utf-8")
    result = load_ruleset(tmp_path, today=TODAY)
    assert result.ruleset is not None
    assert [(r.id, r.source) for r in result.ruleset.rules] == [
        ("parking", "00-base.yaml:30"), ("default", "10-last.yaml:2")]
