"""The stored-state codec: real bytes of every earlier format decode, round trips, quarantine."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.agents.codec import (
    _CURRENT,
    FORMAT_VERSION,
    UPCASTERS,
    Stored,
    UndecodableState,
    decode,
    encode,
    peek,
    summary_of,
    upcast,
)
from engine.domain.overdue import open_overdue
from engine.domain.state import IssueState
from tests.test_properties import END, build, history, replay

STATES = Path(__file__).parent / "testdata" / "states"
FIXTURES = sorted(STATES.glob("v*.jsonl"))
UNTYPED_RESEND = {"v0-97ce9df-before-store.jsonl", "v0-1058fb2-step-untyped-resend.jsonl"}
WITH_STEP = {"v0-97ce9df-before-store.jsonl", "v0-1058fb2-step-untyped-resend.jsonl",
             "v0-1a4a3d4-step.jsonl"}
TITLE = "乱停车堵住消防通道 张三 13800000000"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("states_generate", STATES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# by the current core: (partition, state) and the events each of those decisions emitted
_DECISIONS = list(_generator().decisions())
EXPECTED: list[tuple[int, IssueState]] = [(p, s) for p, s, _ in _DECISIONS]
EMITTED: list[tuple[Any, ...]] = [e for _, _, e in _DECISIONS]


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def assert_quarantined(raw: bytes) -> UndecodableState:
    with pytest.raises(UndecodableState) as caught:
        decode(raw)
    error = caught.value
    assert error.reason and str(error) == error.reason
    # nothing chained that would print the value (pydantic errors quote their input)
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return error


# --- real bytes of every format -------------------------------------------------------------


def test_every_format_version_has_real_bytes() -> None:
    for version in range(FORMAT_VERSION + 1):
        assert list(STATES.glob(f"v{version}-*.jsonl")), f"no fixture of format v{version}"
    assert set(UPCASTERS) == set(range(FORMAT_VERSION))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_the_fixture_is_the_format_it_is_named_for(path: Path) -> None:
    for raw in lines(path):
        doc = json.loads(raw)
        if path.name.startswith("v0-"):
            assert set(doc) == {"p", "s"}
            assert ("step" in doc["s"]) == (path.name in WITH_STEP)
            typed = all("type" in e and "data" in e for e in doc["s"]["last_emitted"])
            assert typed == (path.name not in UNTYPED_RESEND) or not doc["s"]["last_emitted"]
        else:
            assert doc["v"] == int(path.name[1 : path.name.index("-")])
            assert raw.startswith(b'{"v":%d,' % doc["v"])  # as encode writes it


def _trigger(key: str) -> tuple[object, ...]:
    """A ``deadline:<token>:<due>`` key with its instant as an instant (the offsets may differ)."""
    if not key.startswith("deadline:"):
        return (key,)
    _, token, due = key.split(":", 2)
    return ("deadline", token, datetime.fromisoformat(due))


def _comparable(state: IssueState) -> dict[str, Any]:
    fields = state.model_dump()  # datetimes stay datetimes: equal instants compare equal
    fields["deadlines"] = sorted(state.deadlines)  # the old core ordered re-armed ones otherwise
    fields["last_trigger"] = _trigger(state.last_trigger)
    return fields


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_line_decodes_to_the_state_the_current_core_holds(path: Path) -> None:
    raws = lines(path)
    assert len(raws) == len(EXPECTED)
    untyped = path.name in UNTYPED_RESEND
    for raw, (partition, expected), emitted in zip(raws, EXPECTED, EMITTED, strict=True):
        stored = decode(raw)
        state = stored.state
        assert stored.partition == partition
        assert (state.issue_id, state.version, state.status, state.level, state.units) == (
            expected.issue_id, expected.version, expected.status, expected.level, expected.units)
        assert sorted(state.deadlines) == sorted(expected.deadlines)
        assert (state.path, state.reports) == (expected.path, expected.reports)
        assert _comparable(state) == _comparable(expected)
        # what a redelivery of the last trigger re-sends: the old state's ``last_emitted`` (or
        # the v1 outbox), now the outbox, answering that trigger
        if untyped:
            assert stored.outbox == ()  # type and data were never written: unrecoverable
        else:
            assert [(type(e), e.id) for e in stored.outbox] == [
                (type(e), e.id) for e in emitted]
        if stored.outbox:
            assert stored.keys == (state.last_trigger,)
        else:
            assert stored.keys == ()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_line_survives_a_rewrite_in_the_current_format(path: Path) -> None:
    for raw in lines(path):
        stored = decode(raw)
        again = encode(stored)
        assert again.startswith(b'{"v":%d,' % FORMAT_VERSION)
        assert decode(again) == stored
        assert encode(decode(again)) == again


def _times(state: IssueState) -> Iterator[datetime]:
    for name in ("raised_at", "entered_at", "respond_by", "resolve_by", "resolved_at",
                 "closed_at"):
        yield from (t for t in [getattr(state, name)] if t is not None)
    for d in state.deadlines:
        yield from (t for t in (d.due, d.limit_due) if t is not None)
    for p in state.path:
        yield from (t for t in (p.entered_at, p.left_at) if t is not None)
    for r in state.reports:
        yield from (t for t in (r.due, r.reported_at) if t is not None)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_decoded_utc_times_are_in_datetime_utc_and_encode_to_the_same_bytes(path: Path) -> None:
    for raw in lines(path):
        stored = decode(raw)
        for moment in _times(stored.state):
            assert moment.tzinfo is UTC or moment.utcoffset() != timedelta(0)
        # as validated, without the conversion: the same value and the same bytes
        plain = _CURRENT.validate_json(json.dumps(upcast(json.loads(raw))))["s"]
        assert stored.state == plain
        assert encode(stored) == encode(Stored(stored.partition, plain, stored.outbox,
                                               stored.keys))


def test_the_fixtures_cover_a_whole_lifecycle() -> None:
    states = [s for _, s in EXPECTED]
    assert {s.status for s in states} == {"open", "resolved", "closed"}
    assert {s.level for s in states} == {"grid", "village", "street", "department"}
    assert {e.type for emitted in EMITTED for e in emitted} == {
        "issue.assigned", "issue.warning", "issue.overdue", "issue.escalated", "issue.reopened",
        "issue.closed"}
    assert any(s.reopens for s in states) and any(s.hint_departments for s in states)
    assert {r.outcome for s in states for r in s.reports} == {"on_time", "late", None}
    assert {e.response for s in states for e in s.path} >= {"on_time", "missed"}
    assert {s.entry_reason for s in states} >= {"raised", "respond_overdue", "whistle"}


@pytest.mark.parametrize("name", ["v1-lifecycle.jsonl", "v2-lifecycle.jsonl", "v3-lifecycle.jsonl",
                                  "v4-lifecycle.jsonl", "v4-6b7fbe0-lifecycle.jsonl",
                                  "v5-lifecycle.jsonl"])
def test_the_fixtures_since_v1_have_outboxes(name: str) -> None:
    decoded = [decode(raw) for raw in lines(STATES / name)]
    assert any(s.outbox and s.keys for s in decoded)
    assert any(not s.outbox and not s.keys for s in decoded)


def test_v1_kept_re_send_events_in_the_state_and_v2_keeps_none_there() -> None:
    v1 = [json.loads(raw) for raw in lines(STATES / "v1-lifecycle.jsonl")]
    v2 = [json.loads(raw) for raw in lines(STATES / "v2-lifecycle.jsonl")]
    assert any(doc["s"]["last_emitted"] and "o" not in doc for doc in v1)
    assert not any("last_emitted" in doc["s"] for doc in v2)


# --- the current layout -----------------------------------------------------------------------


def test_encode_writes_the_documented_object() -> None:
    partition, state = EXPECTED[7]
    emitted = EMITTED[7]
    assert emitted
    first = min(state.deadlines, key=lambda d: d.due)
    header = [state.status, state.level, first.due.isoformat(), first.token,
              state.closed_at.isoformat() if state.closed_at else None, None,
              [list(limit) for limit in open_overdue(state)]]
    bare = json.loads(encode(Stored(partition, state)))
    assert bare == {"v": FORMAT_VERSION, "p": partition, "h": header,
                    "s": state.model_dump(mode="json")}
    full = json.loads(encode(Stored(partition, state, emitted, ("k1", "k2"))))
    assert full == {
        "v": FORMAT_VERSION,
        "p": partition,
        "h": header,
        "s": state.model_dump(mode="json"),
        "o": [e.model_dump(mode="json") for e in emitted],
        "k": ["k1", "k2"],
    }
    assert list(full) == ["v", "p", "h", "s", "o", "k"]


def test_a_current_object_in_another_key_order_reads_too() -> None:
    partition, state = EXPECTED[7]
    stored = Stored(partition, state, EMITTED[7], ("k",))
    doc = json.loads(encode(stored))
    reordered = json.dumps({key: doc[key] for key in reversed(list(doc))}).encode()
    assert decode(reordered) == stored


# --- round trips (hypothesis) -----------------------------------------------------------------


def _replayed(h: Any) -> Iterator[IssueState]:
    r, _ = replay(build(*h), END)
    yield from r.states.values()


@settings(max_examples=50, deadline=None)
@given(history, st.data())
def test_every_stored_value_survives_its_round_trip(h: Any, data: st.DataObject) -> None:
    states = list(_replayed(h))
    outbox = tuple(e for d in replay(build(*h), END)[1] for e in d.emit)
    assert outbox  # every history raises two issues
    for state in states:
        stored = Stored(
            partition=data.draw(st.integers(min_value=0, max_value=2**31 - 1)),
            state=state,
            outbox=data.draw(st.sampled_from([(), outbox, outbox[:1]])),
            keys=tuple(data.draw(st.lists(st.text(), max_size=3))),
        )
        assert decode(encode(stored)) == stored
        # the shell splices the outbox's events as it encoded them to send them: same bytes
        sent = [e.__pydantic_serializer__.to_json(e) for e in stored.outbox]
        assert encode(stored, sent) == encode(stored)


# --- quarantine -------------------------------------------------------------------------------


def _current_doc() -> dict[str, Any]:
    partition, state = EXPECTED[7]
    doc: dict[str, Any] = json.loads(encode(Stored(partition, state, EMITTED[7], ("k",))))
    return doc


def _raw(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xc3\x28 garbage", "not UTF-8"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"{\"p\": 0, \"s\": {", "not JSON"),
        (b"", "not JSON"),
        (b"[]", "not a JSON object but an array"),
        (b"null", "not a JSON object but null"),
        (b"\"text\"", "not a JSON object but a string"),
        (b"17", "not a JSON object but a number"),
        (b"{\"v\": 99, \"p\": 0, \"s\": {}}",
         "written by a newer format version 99; this worker reads up to 5"),
        (b"{\"v\": true, \"p\": 0, \"s\": {}}", "not a non-negative integer"),
        (b"{\"v\": \"1\", \"p\": 0, \"s\": {}}", "not a non-negative integer"),
        (b"{\"v\": -1, \"p\": 0, \"s\": {}}", "not a non-negative integer"),
        (b"{\"p\": 0}", "format v0 upcast to v5: s: Field required"),
        (b"{\"v\": 1, \"p\": 0}", "format v1 upcast to v5: s: Field required"),
        (b"{\"v\": 2, \"p\": 0}", "format v2 upcast to v5: s: Field required"),
        (b"{\"v\": 3, \"p\": 0}", "format v3 upcast to v5: s: Field required"),
        (b"{\"v\": 4, \"p\": 0}", "format v4 upcast to v5: s: Field required"),
        (b"{\"v\": 5, \"p\": 0}", "format v5: s: Field required"),
        (b"{\"v\":5,\"p\":0}", "format v5: s: Field required"),
    ],
)
def test_undecodable_values_are_quarantined_with_a_reason(raw: bytes, words: str) -> None:
    assert words in assert_quarantined(raw).reason


def test_newer_version_reason_is_exact() -> None:
    doc = _current_doc() | {"v": 99}
    reason = assert_quarantined(_raw(doc)).reason
    assert reason == "written by a newer format version 99; this worker reads up to 5"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["s"].update(version="seven"), "s.version"),
        (lambda d: d.update(p="0"), "p"),
        (lambda d: d.update(k=[1]), "k.0"),
        (lambda d: d["s"].update(status=TITLE), "s.status"),
        (lambda d: d["s"].update(title=TITLE), "s.title"),  # extra field
        (lambda d: d.update(x=TITLE), "x"),
        (lambda d: d["o"][0].update(type=TITLE), "o.0"),
        (lambda d: d["s"]["deadlines"][0].__setitem__(2, TITLE), "s.deadlines.0"),
        (lambda d: d["s"].pop("issue_id"), "s.issue_id"),
    ],
)
def test_a_current_object_with_a_wrong_field_is_quarantined_without_its_values(
    change: Any, where: str
) -> None:
    doc = _current_doc()
    change(doc)
    reason = assert_quarantined(_raw(doc)).reason
    assert reason.startswith(f"format v{FORMAT_VERSION}: {where}")
    assert TITLE not in reason and "张三" not in reason and "seven" not in reason


def test_a_v0_object_with_a_wrong_field_is_quarantined_after_its_upcast() -> None:
    doc = json.loads(lines(STATES / "v0-1a4a3d4-step.jsonl")[0])
    doc["s"]["level"] = TITLE
    reason = assert_quarantined(_raw(doc)).reason
    assert reason.startswith(f"format v0 upcast to v{FORMAT_VERSION}: s.level")
    assert "张三" not in reason


def test_many_errors_are_summarised() -> None:
    reason = assert_quarantined(b"{\"v\": 1, \"p\": 0, \"s\": {}}").reason
    assert reason.count(";") == 2 and "more)" in reason


def test_a_value_of_another_type_than_bytes_is_quarantined() -> None:
    with pytest.raises(UndecodableState):
        decode(memoryview(b"[]"))  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decode_raises_only_undecodable_state_on_random_bytes(raw: bytes) -> None:
    try:
        decode(raw)
    except UndecodableState as error:
        assert error.reason


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["", "v", "p", "h", "s", "o", "k"]),
       st.sampled_from([0, 1, 2, 3, 4]))
def test_decode_raises_only_undecodable_state_on_random_json(
    value: Any, key: str, version: int
) -> None:
    """Random JSON alone, or in place of one field of a real value of any version."""
    if not isinstance(value, dict):
        assert_quarantined(_raw(value))
    older = [f for f in FIXTURES if f.name.startswith(f"v{version}-")]
    doc = _current_doc() if version == FORMAT_VERSION else json.loads(lines(older[-1])[9])
    if key:
        doc[key] = value
    else:
        doc["s"] = value
    try:
        decode(_raw(doc))
    except UndecodableState as error:
        assert error.reason


# --- upcast -----------------------------------------------------------------------------------


def test_upcast_of_a_v0_object_with_step_is_a_valid_current_object() -> None:
    raw = lines(STATES / "v0-1a4a3d4-step.jsonl")[12]
    doc = json.loads(raw)
    before = json.loads(raw)
    assert "step" in doc["s"] and "v" not in doc and doc["s"]["last_emitted"]
    current = upcast(doc)
    assert doc == before  # the input is not changed
    assert current["v"] == FORMAT_VERSION and "step" not in current["s"]
    assert "last_emitted" not in current["s"]
    assert current["o"] == doc["s"]["last_emitted"] and current["k"] == [doc["s"]["last_trigger"]]
    stored = decode(_raw(current))
    assert stored == decode(raw)
    assert stored.outbox and stored.keys == (stored.state.last_trigger,)


def test_upcast_drops_untyped_resend_events_only() -> None:
    for raw in lines(STATES / "v0-1058fb2-step-untyped-resend.jsonl"):
        current = upcast(json.loads(raw))
        assert "last_emitted" not in current["s"] and "o" not in current and "k" not in current
    typed = [upcast(json.loads(raw)).get("o") for raw in lines(STATES / "v0-e879155-no-step.jsonl")]
    assert any(typed)


def test_upcast_v1_to_v2_keeps_a_v1_outbox_over_the_state_s_re_send_events() -> None:
    v1 = [json.loads(raw) for raw in lines(STATES / "v1-lifecycle.jsonl")]
    both = next(doc for doc in v1 if "o" in doc and doc["s"]["last_emitted"])
    bare = next(doc for doc in v1 if "o" not in doc and doc["s"]["last_emitted"])
    assert upcast(both)["o"] == both["o"] and upcast(both)["k"] == both["k"]
    assert upcast(bare)["o"] == bare["s"]["last_emitted"]
    assert upcast(bare)["k"] == [bare["s"]["last_trigger"]]
    assert "o" not in upcast(next(doc for doc in v1 if not doc["s"]["last_emitted"]))


def test_upcast_returns_a_current_object_as_it_is() -> None:
    doc = _current_doc()
    assert upcast(doc) is doc


def test_upcast_refuses_a_newer_version() -> None:
    with pytest.raises(UndecodableState, match="newer format version 6"):
        upcast({"v": 6, "p": 0, "s": {}})


# --- the scan header (v4, v5) -------------------------------------------------------------------


def test_the_header_of_every_current_value_says_what_its_state_says() -> None:
    for raw in lines(STATES / "v5-lifecycle.jsonl"):
        stored = decode(raw)
        assert peek(stored.state.issue_id, raw) == summary_of(stored.partition, stored.state)
    states = [decode(r).state for r in lines(STATES / "v5-lifecycle.jsonl")]
    assert {s.status for s in states} >= {"open", "resolved", "closed"}
    assert any(open_overdue(s) for s in states)  # the header's open overdue limits are tried


def test_values_without_a_readable_header_are_left_to_a_whole_decode() -> None:
    for older in ("v3-lifecycle.jsonl", "v4-lifecycle.jsonl"):  # v4's header is not v5's
        assert peek("X", lines(STATES / older)[3]) is None
    raw = lines(STATES / "v5-lifecycle.jsonl")[3]
    broken = raw.replace(b'"h":["', b'"h":[7,"', 1)
    assert peek("X", broken) is None and peek("X", b'{"v":5,"p":0}') is None
    assert peek("X", raw) is not None


def test_a_v4_value_is_read_whole_and_written_back_with_a_v5_header() -> None:
    for raw in lines(STATES / "v4-6b7fbe0-lifecycle.jsonl"):
        stored = decode(raw)
        again = encode(stored)
        assert again.startswith(b'{"v":5,')
        assert peek(stored.state.issue_id, again) == summary_of(stored.partition, stored.state)
