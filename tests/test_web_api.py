"""The who-holds-what API without a broker: the query's parameters, "overdue", the order and
cursor of pages (a property: paging through any split of issues over workers gives every match
once, in id order), the coverage check of the scatter-gather, and the page's escaping."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.decide import decide
from engine.domain.state import IssueState
from engine.web.gather import Cluster, Incomplete, Lookup
from engine.web.issues import (
    MAX_LIMIT,
    Answer,
    BadQuery,
    Query,
    answer,
    claims_of,
    decode_cursor,
    encode_cursor,
    merge,
    missed,
    parse_query,
    view,
)
from tests.factories import T0, event, raised, ruleset

RULES = ruleset()


def state(issue: str, at: datetime = T0, **extra: Any) -> IssueState:
    got = decide(None, raised(issue, at, **extra), RULES, at).state
    assert got is not None
    return got


def then(s: IssueState, kind: str, at: datetime, **data: Any) -> IssueState:
    got = decide(s, event(kind, s.issue_id, at, **data), RULES, at).state
    assert got is not None
    return got


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "message"), [
    ({"level": "town"}, "level: 'town' is not a level; one of grid, village, street, department"),
    ({"status": "pending"}, "status: 'pending' is not a status; one of open, resolved, closed"),
    ({"overdue": "yes"}, "overdue: 'yes': expected true or false"),
    ({"limit": "0"}, f"limit: '0': expected a whole number from 1 to {MAX_LIMIT}"),
    ({"limit": "501"}, f"limit: '501': expected a whole number from 1 to {MAX_LIMIT}"),
    ({"limit": "ten"}, f"limit: 'ten': expected a whole number from 1 to {MAX_LIMIT}"),
    ({"cursor": "%%%"}, "cursor: not a cursor this API gave (pass next_cursor as it is)"),
    ({"cursor": "eyJ4IjogMX0"}, "cursor: not a cursor this API gave (pass next_cursor as it is)"),
    ({"street": " "}, "street: empty; leave it out to match any"),
    ({"grid": "jinan-g1"}, "grid: unknown parameter; the parameters are unit, level, street, "
                           "status, overdue, limit, cursor"),
])
def test_a_bad_parameter_is_refused_with_its_name_and_why(params: dict[str, str],
                                                          message: str) -> None:
    with pytest.raises(BadQuery) as exc:
        parse_query(params.items())
    assert str(exc.value) == message


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(BadQuery, match="level: given more than once"):
        parse_query([("level", "grid"), ("level", "street")])


def test_parameters_parse_and_round_trip() -> None:
    q = parse_query([("unit", "jinan-g1"), ("level", "grid"), ("street", "dongting"),
                     ("status", "open"), ("overdue", "false"), ("limit", "7"),
                     ("cursor", encode_cursor("XS-3"))])
    assert q == Query(unit="jinan-g1", level="grid", street="dongting", status="open",
                      overdue=False, limit=7, after="XS-3")
    assert parse_query(q.params().items()) == q
    assert decode_cursor(encode_cursor("东亭-1")) == "东亭-1"


# --- overdue and the view -------------------------------------------------------------------


def test_overdue_is_a_limit_of_the_current_level_passed_unmet() -> None:
    s = state("XS-1")  # grid: respond 30m, resolve 2h
    assert missed(s, T0 + timedelta(minutes=30)) == []  # due at 30m: not yet passed
    late = missed(s, T0 + timedelta(minutes=31))
    assert [(m.kind, m.unit) for m in late] == [("respond", "jinan-g1")]
    acked = then(s, "acknowledged", T0 + timedelta(minutes=5), unit="jinan-g1")
    assert missed(acked, T0 + timedelta(minutes=31)) == []
    assert [m.kind for m in missed(acked, T0 + timedelta(hours=3))] == ["resolve"]
    done = then(acked, "resolved", T0 + timedelta(minutes=10), unit="jinan-g1")
    assert missed(done, T0 + timedelta(hours=3)) == []  # resolved: no resolve limit runs


def test_reports_still_due_make_a_department_issue_overdue() -> None:
    s = then(state("XS-2"), "whistled", T0 + timedelta(minutes=1), unit="jinan-g1")
    s = then(s, "whistled", T0 + timedelta(minutes=2), unit="jinan")
    s = then(s, "whistled", T0 + timedelta(minutes=3), unit="dongting")
    assert s.level == "department"
    due = {r.department: r.due for r in s.reports}
    later = max(due.values()) + timedelta(seconds=1)
    s2 = then(s, "reported", T0 + timedelta(minutes=4), department="traffic_police")
    v = view(0, s2, later)
    assert v.overdue and [(m.kind, m.unit) for m in v.missed] == [
        ("report", "urban_management")]
    assert [r.outcome for r in v.reports] == ["on_time", None]
    assert [p.level for p in v.path] == ["grid", "village", "street"]
    assert v.lead == "traffic_police" and v.held_since == T0 + timedelta(minutes=3)
    assert v.claims == []


def test_claims_are_read_from_the_state_when_it_has_them() -> None:
    class Claimed:
        claims = ({"claimant": {"kind": "party_member", "id": "pm-7"}, "note": ""},)

    assert claims_of(Claimed()) == [{"claimant": {"kind": "party_member", "id": "pm-7"},  # type: ignore[arg-type]
                                     "note": ""}]
    assert claims_of(state("XS-9")) == []


def test_the_view_carries_no_personal_data() -> None:
    s = state("XS-3", reporter={"kind": "resident", "id": "13800000000"},
              location={"address": "锦安路 1 号"})
    text = view(0, s, T0).model_dump_json()
    assert "13800000000" not in text and "锦安路" not in text and "乱停车堵住" not in text


# --- pages over workers -----------------------------------------------------------------------


def issues(n: int) -> list[IssueState]:
    out = []
    for i in range(n):
        s = state(f"XS-{i:03d}", grid="jinan-g1" if i % 3 else "jinan-g2",
                  category="illegal_parking" if i % 2 else "noise")
        if i % 4 == 0:
            s = then(s, "acknowledged", T0 + timedelta(minutes=1), unit=s.units[0])
        out.append(s)
    return out


ALL = issues(40)


@settings(max_examples=60, deadline=None)
@given(workers=st.lists(st.integers(0, 2), min_size=len(ALL), max_size=len(ALL)),
       limit=st.integers(1, 12), unit=st.sampled_from([None, "jinan-g1", "jinan-g2"]),
       overdue=st.sampled_from([None, True, False]))
def test_paging_through_any_split_gives_every_match_once_in_id_order(
        workers: list[int], limit: int, unit: str | None, overdue: bool | None) -> None:
    now = T0 + timedelta(minutes=45)
    held: dict[int, list[tuple[int, IssueState]]] = {0: [], 1: [], 2: []}
    for w, s in zip(workers, ALL, strict=True):
        held[w].append((w, s))
    expected = sorted(s.issue_id for s in ALL
                      if (unit is None or unit in s.units)
                      and (overdue is None or bool(missed(s, now)) == overdue))
    got: list[str] = []
    after: str | None = None
    for _ in range(len(ALL) + 2):
        q = Query(unit=unit, overdue=overdue, limit=limit, after=after)
        answers = [answer(held[w], q, now, [w]) for w in held]
        page, cursor, total = merge(answers, limit)
        assert total == len(expected)
        assert len(page) <= limit
        got += [i.id for i in page]
        if cursor is None:
            break
        after = decode_cursor(cursor)
    assert got == expected


# --- the scatter-gather's coverage ------------------------------------------------------------


def cluster(bodies: dict[str, tuple[int, Any]], members: dict[str, set[int]]) -> Cluster:
    async def get(url: str, params: Mapping[str, str]) -> tuple[int, Any]:
        assert params["scope"] == "local"
        base = url.split("/api/")[0]
        if base not in bodies:
            raise OSError("connection refused")
        return bodies[base]

    return Cluster(self_url="http://a", partitions=4, members=lambda: members, get=get)


def test_a_list_is_given_only_when_every_partition_answered() -> None:
    s = state("XS-1")
    mine = Answer([view(0, s, T0)], False, 1, [0, 1])
    theirs = Answer([], False, 0, [2, 3])
    members = {"http://a": {0, 1}, "http://b": {2, 3}}
    c = cluster({"http://b": (200, theirs.to_json())}, members)
    got = asyncio.run(c.issues(Query(), lambda: mine))
    assert [a.partitions for a in got] == [[0, 1], [2, 3]]

    down = cluster({}, members)
    with pytest.raises(Incomplete, match=r"partitions \[2, 3\] did not answer \(http://b: "
                                         r"OSError\)"):
        asyncio.run(down.issues(Query(), lambda: mine))
    starting = cluster({"http://b": (503, {"error": "not_ready"})}, members)
    with pytest.raises(Incomplete, match=r"http://b: HTTP 503"):
        asyncio.run(starting.issues(Query(), lambda: mine))
    overlap = cluster({"http://b": (200, Answer([], False, 0, [1, 2, 3]).to_json())}, members)
    with pytest.raises(Incomplete, match=r"partitions \[1\] answered twice"):
        asyncio.run(overlap.issues(Query(), lambda: mine))
    with pytest.raises(Incomplete, match=r"http://a: not ready"):
        asyncio.run(c.issues(Query(), lambda: None))


def test_one_issue_comes_from_whoever_holds_it_and_404_needs_every_partition() -> None:
    s = state("XS-1")
    members = {"http://a": {0, 1}, "http://b": {2, 3}}
    held = Lookup(view(3, s, T0), False, [2, 3])
    c = cluster({"http://b": (200, held.to_json())}, members)
    got = asyncio.run(c.issue("XS-1", lambda: Lookup(None, False, [0, 1])))
    assert got.issue is not None and got.issue.id == "XS-1" and got.issue.partition == 3
    gone = cluster({"http://b": (200, Lookup(None, True, [2, 3]).to_json())}, members)
    got = asyncio.run(gone.issue("XS-1", lambda: Lookup(None, False, [0, 1])))
    assert got.issue is None and got.retired and got.partitions == [0, 1, 2, 3]
    with pytest.raises(Incomplete):
        asyncio.run(cluster({}, members).issue("XS-1", lambda: Lookup(None, False, [0, 1])))


# --- the OpenAPI document ---------------------------------------------------------------------


def test_answers_validate_against_the_checked_in_openapi_document() -> None:
    import json

    import yaml
    from jsonschema import Draft202012Validator

    from engine.schemas_export import SCHEMA_DIR
    from engine.web.openapi import document

    doc = yaml.safe_load((SCHEMA_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    assert doc == json.loads(json.dumps(document()))  # generated, not hand-edited
    assert set(doc["paths"]) == {"/", "/api/issues", "/api/issues/{issue_id}"}

    def valid(model: str, body: Any) -> None:
        schema = {**doc, "$ref": f"#/components/schemas/{model}"}
        Draft202012Validator(schema).validate(body)

    s = then(state("XS-1"), "whistled", T0 + timedelta(minutes=1), unit="jinan-g1")
    page = answer([(0, s)], Query(), T0 + timedelta(hours=9), [0])
    valid("IssuePage", {"items": [i.model_dump(mode="json") for i in page.items], "total": 1,
                        "next_cursor": None, "as_of": T0.isoformat(), "partitions": [0]})
    valid("Problem", {"error": "not_found", "detail": "no issue"})
    bad = page.items[0].model_dump(mode="json")
    bad["level"] = "town"
    with pytest.raises(Exception, match="town"):
        valid("Issue", bad)


# --- the local answer reads headers before states ---------------------------------------------


def mixed(n: int) -> list[IssueState]:
    """Open, resolved and closed issues, some whistled up to the village."""
    out = []
    for i, s in enumerate(issues(n)):
        at = T0 + timedelta(minutes=2)
        if i % 5 == 1:
            s = then(s, "whistled", at, unit=s.units[0], reason="needs the village")
        if i % 3 == 1:
            s = then(s, "resolved", at + timedelta(minutes=1), unit=s.units[0])
        if i % 6 == 1:
            s = then(s, "rated", at + timedelta(minutes=2), satisfied=True, score=5)
        out.append(s)
    return out


@pytest.mark.parametrize("query", [
    Query(status="open"), Query(status="closed"), Query(status="resolved"),
    Query(level="village"), Query(level="grid", status="open"), Query(unit="jinan-g2"),
    Query(overdue=True), Query(),
])
def test_the_local_answer_decodes_only_states_whose_header_can_match(
        query: Query, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.agents import store as store_module
    from engine.agents.codec import Stored
    from engine.agents.store import IssueStore
    from engine.web.routes import Web

    states = mixed(30)
    assert {s.status for s in states} == {"open", "resolved", "closed"}
    assert {s.level for s in states} >= {"grid", "village"}
    store = IssueStore({})
    for s in states:
        store.write(Stored(partition=0, state=s))
    store.forget({0})  # the decode cache too: every state is read back from its bytes
    decoded: list[str] = []
    real = store_module.decode
    monkeypatch.setattr(store_module, "decode", lambda raw: decoded.append("x") or real(raw))
    now = T0 + timedelta(minutes=45)
    web = Web(store=store, owned=lambda: {0}, ready=lambda: True, now=lambda: now,
              rules=lambda: RULES, cluster=None, feed=None)  # type: ignore[arg-type]
    got = web.local_answer(query.__class__(**{**query.__dict__, "limit": 100}))
    assert got is not None
    expected = answer([(0, s) for s in states], query.__class__(**{**query.__dict__,
                                                                   "limit": 100}), now, [0])
    assert got.to_json() == expected.to_json()  # the same answer as from every state
    wanted = [s for s in states if query.could_match(s.status, s.level)]
    assert len(decoded) == len(wanted)  # and only the states that could match were decoded
    if query.status is not None or query.level is not None:
        assert len(decoded) < len(states)
