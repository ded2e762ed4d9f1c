"""parse(): bytes from issues.events in, a typed event or a reason to reject it, never a raise."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.events import (
    INBOUND_TYPES,
    IssueRaised,
    IssueRated,
    IssueWhistled,
)
from engine.domain.parse import (
    REJECTION_REASONS,
    Accepted,
    Payload,
    Rejected,
    RejectedRecord,
    parse,
)

GRIDS = frozenset({"xs-g01", "xs-g02"})
SUBJECT = "XS-2026-000123"
SECRET = "SECRET-0x5eed"  # stands for personal data: it must never reach a detail

DATA: dict[str, dict[str, Any]] = {
    "issue.raised": {
        "grid": "xs-g01",
        "category": "road",
        "severity": "urgent",
        "title": "Pothole on Jinshan Road",
        "description": "A deep pothole by the bus stop; two bikes fell today.",
        "reporter": {"kind": "resident", "id": "r-889"},
        "location": {"address": "Jinshan Rd 12", "lat": 25.03, "lon": 102.71},
        "departments": ["transport"],
    },
    "issue.acknowledged": {"unit": "xs-g01"},
    "issue.whistled": {"unit": "xs-v01", "reason": "needs a digger", "departments": ["transport"]},
    "issue.reported": {"department": "transport"},
    "issue.progressed": {"unit": "transport", "note": "crew booked for Friday",
                         "claimant": {"kind": "party_member", "id": "pm-0042"}},
    "issue.resolved": {"unit": "transport", "note": "filled"},
    "issue.rated": {"satisfied": True, "score": 5, "note": "quick"},
    "issue.withdrawn": {"reason": "fixed by the landlord"},
    "issue.claimed": {"claimant": {"kind": "rider", "id": "rd-7731"}, "note": "I pass by daily"},
    "issue.claim_released": {"claimant": {"kind": "rider", "id": "rd-7731"}},
    "issue.park_requested": {"unit": "xs-s01", "reason": "waits for the 2027 budget",
                             "plan": "tender in March", "review_at": "2027-03-01T09:00:00+08:00"},
    "issue.park_decided": {"decision": "approved", "approver": "housing",
                           "review_at": "2027-02-15T09:00:00+08:00", "note": "ok"},
    "issue.unparked": {"unit": "xs-s01", "note": "budget approved"},
    "issue.return_requested": {"unit": "transport", "reason_code": "not_ours",
                               "note": "a water main, not a road", "suggested": "water"},
    "issue.return_decided": {"decision": "accepted", "by": "xs-street", "to": ["water"]},
    "issue.extension_requested": {"unit": "transport", "working_days": 5,
                                  "basis": "区政府专题会议纪要", "reason": "needs a road closure"},
    "issue.extension_decided": {"decision": "approved", "approver": "xs-street",
                                "until": "2026-12-04T17:30:00+08:00"},
}


def event(type_: str = "issue.raised", **changes: Any) -> dict[str, Any]:
    """A valid inbound CloudEvent of ``type_`` as a dict; ``changes`` replace attributes."""
    doc: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"grid-app-{type_}-1",
        "source": "grid-app/xishan",
        "type": type_,
        "subject": SUBJECT,
        "time": "2026-11-27T09:30:00+08:00",
        "datacontenttype": "application/json",
        "data": json.loads(json.dumps(DATA.get(type_, {}))),
    }
    doc.update(changes)
    return doc


def data(type_: str = "issue.raised", **changes: Any) -> dict[str, Any]:
    return {**DATA[type_], **changes}


def encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def without(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != name}


#: One valid example per inbound type: also validated against the exported JSON Schemas.
EXAMPLES: dict[str, dict[str, Any]] = {t: event(t) for t in DATA}


def test_examples_cover_every_inbound_type() -> None:
    assert set(EXAMPLES) == set(INBOUND_TYPES)


@pytest.mark.parametrize("type_", sorted(DATA))
def test_a_valid_event_of_each_type_is_accepted_as_its_model(type_: str) -> None:
    result = parse(encode(EXAMPLES[type_]), SUBJECT, GRIDS)
    assert isinstance(result, Accepted), result
    assert type(result.event) is INBOUND_TYPES[type_]
    assert result.event.type == type_
    assert result.event.subject == SUBJECT
    assert result.event.time == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)


def test_an_accepted_raised_event_has_typed_data() -> None:
    result = parse(encode(EXAMPLES["issue.raised"]), SUBJECT.encode(), GRIDS)
    assert isinstance(result, Accepted)
    assert isinstance(result.event, IssueRaised)
    d = result.event.data
    assert (d.grid, d.severity, d.departments) == ("xs-g01", "urgent", ("transport",))
    assert d.reporter is not None and d.reporter.kind == "resident"
    assert d.location is not None and d.location.lat == 25.03


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(without(event(), "datacontenttype"), id="datacontenttype-optional"),
        pytest.param(event(time="2026-11-27T01:30:00Z"), id="utc-z"),
        pytest.param(event(time="2026-11-27t01:30:00.250z"), id="lowercase-and-fraction"),
        pytest.param(event(traceparent="00-abc-01", partitionkey="x"), id="extension-attributes"),
        pytest.param(
            event(data={"grid": "xs-g02", "category": "unknown-cat", "title": "t"}),
            id="minimal-raised",
        ),
        pytest.param(event("issue.rated", data={"satisfied": False}), id="rating-without-score"),
        pytest.param(event("issue.whistled", data={"unit": "xs-g01"}), id="whistle-no-departments"),
    ],
)
def test_valid_variants_are_accepted(doc: dict[str, Any]) -> None:
    assert isinstance(parse(encode(doc), SUBJECT, GRIDS), Accepted)


def test_whistled_departments_arrive_as_a_tuple() -> None:
    result = parse(encode(EXAMPLES["issue.whistled"]), None, GRIDS)
    assert isinstance(result, Accepted) and isinstance(result.event, IssueWhistled)
    assert result.event.data.departments == ("transport",)


def test_no_key_skips_the_subject_check() -> None:
    assert isinstance(parse(encode(event()), None, GRIDS), Accepted)


def test_the_grid_check_is_for_raised_events_only() -> None:
    assert isinstance(parse(encode(event("issue.acknowledged")), SUBJECT, set()), Accepted)


# --- every rejection reason -----------------------------------------------------------------

REJECTIONS: list[Any] = [
    # (raw, key, reason, detail substring)
    pytest.param(b" " * 65537, None, "too_large", "65537 bytes", id="too-large"),
    pytest.param(b'{"id": }', None, "invalid_json", "line 1 column 8: Expecting value", id="json"),
    pytest.param(b"", None, "invalid_json", "line 1 column 1", id="empty"),
    pytest.param(b"\xff{}", None, "invalid_json", "not UTF-8", id="not-utf8"),
    pytest.param(
        '{"a": "x"}'.encode("utf-16"), None, "invalid_json", "not UTF-8", id="utf16-not-guessed"
    ),
    pytest.param(b'{"a": NaN}', None, "invalid_json", "NaN", id="nan"),
    pytest.param(b"1" * 5000, None, "invalid_json", "digits", id="huge-integer"),
    pytest.param(b"[" * 30000 + b"]" * 30000, None, "invalid_json", "too deep", id="deep-nesting"),
    pytest.param(
        encode(event(data=data(title="LONE"))).replace(b"LONE", b"\\ud800"),
        None,
        "invalid_json",
        "line 1 column",
        id="lone-surrogate",
    ),
    pytest.param(b"[1, 2]", None, "not_cloudevent", "array, not an object", id="array"),
    pytest.param(b'"text"', None, "not_cloudevent", "string, not an object", id="string"),
    pytest.param(
        encode(without(event(), "specversion")), None, "not_cloudevent", "specversion", id="no-sv"
    ),
    pytest.param(
        encode(event(specversion="0.3")), None, "not_cloudevent", "specversion", id="sv-0.3"
    ),
    pytest.param(encode(event(specversion=1.0)), None, "not_cloudevent", "specversion", id="sv-n"),
    pytest.param(encode(without(event(), "id")), None, "not_cloudevent", "id: missing", id="no-id"),
    pytest.param(encode(event(id="")), None, "not_cloudevent", "id: must be 1 to 200", id="id-0"),
    pytest.param(encode(event(source=7)), None, "not_cloudevent", "source: must be a string"),
    pytest.param(encode(without(event(), "type")), None, "not_cloudevent", "type: missing"),
    pytest.param(encode(without(event(), "subject")), None, "not_cloudevent", "subject: missing"),
    pytest.param(encode(without(event(), "time")), None, "not_cloudevent", "time: missing"),
    pytest.param(
        encode(event(time="2026-11-27T09:30:00")), None, "not_cloudevent", "time", id="naive"
    ),
    pytest.param(encode(event(time=1795000000)), None, "not_cloudevent", "time", id="unix-time"),
    pytest.param(
        encode(event(time="2026-11-27T09:30+08:00")), None, "not_cloudevent", "time", id="no-secs"
    ),
    pytest.param(
        encode(event(time="2026-02-30T09:30:00+08:00")),
        None,
        "not_cloudevent",
        "time: Input should be a valid datetime",
        id="no-such-day",
    ),
    pytest.param(
        encode(event(datacontenttype="text/plain")),
        None,
        "not_cloudevent",
        "datacontenttype",
        id="content-type",
    ),
    pytest.param(
        encode(event(type="issue.deleted")),
        None,
        "unknown_type",
        "'issue.deleted' is not one of: issue.{acknowledged, claim_released",
        id="unknown-type",
    ),
    pytest.param(
        encode(event(type="issue.assigned")), None, "unknown_type", "progressed, raised, rated",
        id="outbound",
    ),
    pytest.param(
        encode(event(data={"category": "road", "title": "t", "severity": "high"})),
        None,
        "invalid_data",
        "data.grid: Field required; data.severity: Input should be 'normal', 'urgent' or "
        "'emergency'",
        id="missing-and-bad",
    ),
    pytest.param(
        encode(without(event(), "data")), None, "invalid_data", "data: Field required", id="no-data"
    ),
    pytest.param(
        encode(event(data=[1])), None, "invalid_data", "data: Input should be", id="data-array"
    ),
    pytest.param(
        encode(event(data=data(reporter={"kind": "alien"}))),
        None,
        "invalid_data",
        "data.reporter.kind",
        id="nested-path",
    ),
    pytest.param(
        encode(event(data=data(departments=["ok", 5]))),
        None,
        "invalid_data",
        "data.departments.1: Input should be a valid string",
        id="array-item",
    ),
    pytest.param(
        encode(event()), "XS-2026-999999", "subject_key_mismatch", "differs from key", id="key"
    ),
    pytest.param(encode(event()), b"\xff", "subject_key_mismatch", "not UTF-8", id="key-bytes"),
    pytest.param(
        encode(event(data=data(grid="nowhere"))),
        None,
        "unknown_grid",
        "data.grid 'nowhere' is not a known grid",
        id="unknown-grid",
    ),
]


@pytest.mark.parametrize(("raw", "key", "reason", "detail"), REJECTIONS)
def test_each_rejection_has_its_reason_and_a_readable_detail(
    raw: bytes, key: bytes | str | None, reason: str, detail: str
) -> None:
    result = parse(raw, key, GRIDS)
    assert isinstance(result, Rejected), result
    assert (result.reason, detail in result.detail) == (reason, True), result.detail
    assert len(result.detail) <= 300


def test_every_reason_has_a_case_in_the_table() -> None:
    covered = {p.values[2] for p in REJECTIONS}
    # unknown_issue, state_quarantined, retired_issue and the claim reasons need the table:
    # the processor or the core decides them (tests/test_processor.py, tests/test_retention.py,
    # tests/test_claims.py)
    assert covered == set(REJECTION_REASONS) - {"unknown_issue", "state_quarantined",
                                                "retired_issue", "claim_not_open", "claim_held",
                                                "claim_not_held", "claim_limit"}


def test_the_size_limit_is_a_parameter() -> None:
    raw = encode(event())
    assert isinstance(parse(raw, None, GRIDS, max_bytes=len(raw)), Accepted)
    result = parse(raw, None, GRIDS, max_bytes=len(raw) - 1)
    assert isinstance(result, Rejected) and result.reason == "too_large"


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        pytest.param(b"[" * 70000, None, "too_large", id="size-before-json"),
        pytest.param(
            encode(without(event(type="nope"), "subject")), None, "not_cloudevent", id="ce-first"
        ),
        pytest.param(encode(event(type="nope", data=5)), None, "unknown_type", id="type-first"),
        pytest.param(
            encode(event(data=data(grid="nowhere", severity="x"))),
            "other",
            "invalid_data",
            id="data-before-key",
        ),
        pytest.param(
            encode(event(data=data(grid="nowhere"))), "other", "subject_key_mismatch", id="key-grid"
        ),
    ],
)
def test_reasons_are_checked_in_order(raw: bytes, key: str | None, reason: str) -> None:
    result = parse(raw, key, GRIDS)
    assert isinstance(result, Rejected) and result.reason == reason


# --- strictness ---------------------------------------------------------------------------

STRICT: list[Any] = [
    pytest.param("issue.rated", {"satisfied": "yes"}, "data.satisfied", id="bool-from-text"),
    pytest.param("issue.rated", {"satisfied": 1}, "data.satisfied", id="bool-from-number"),
    pytest.param("issue.rated", {"satisfied": True, "score": 6}, "data.score", id="score-6"),
    pytest.param("issue.rated", {"satisfied": True, "score": 0}, "data.score", id="score-0"),
    pytest.param("issue.rated", {"satisfied": True, "score": "5"}, "data.score", id="score-text"),
    pytest.param("issue.rated", {"satisfied": True, "score": 4.0}, "data.score", id="score-float"),
    pytest.param("issue.acknowledged", {"unit": "g", "by": "x"}, "data.by: Extra", id="extra"),
    pytest.param("issue.raised", data(title=""), "data.title", id="empty-title"),
    pytest.param("issue.raised", data(grid=7), "data.grid", id="grid-number"),
    pytest.param(
        "issue.raised", data(reporter={"kind": "resident", "phone": "1"}), "phone", id="extra-deep"
    ),
]


@pytest.mark.parametrize(("type_", "payload", "detail"), STRICT)
def test_data_is_strict(type_: str, payload: dict[str, Any], detail: str) -> None:
    result = parse(encode(event(type_, data=payload)), SUBJECT, GRIDS)
    assert isinstance(result, Rejected) and result.reason == "invalid_data", result
    assert detail in result.detail


def test_a_naive_time_is_not_a_cloudevent() -> None:
    result = parse(encode(event(time="2026-11-27T09:30:00")), SUBJECT, GRIDS)
    assert result == Rejected(
        "not_cloudevent",
        "time: must be an RFC 3339 timestamp with an offset, like 2026-11-27T09:30:00+08:00",
    )


def test_a_rating_keeps_its_types() -> None:
    result = parse(encode(event("issue.rated")), SUBJECT, GRIDS)
    assert isinstance(result, Accepted) and isinstance(result.event, IssueRated)
    assert result.event.data.satisfied is True and result.event.data.score == 5


def test_results_are_frozen() -> None:
    rejected = parse(b"", None, GRIDS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rejected.reason = "x"  # type: ignore[misc, union-attr]


# --- personal data never reaches a detail -----------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        data(description=SECRET * 400),  # too long
        data(description=[SECRET]),
        data(location={"address": {"x": SECRET}, "lat": 100}),
        data(location={"address": SECRET * 400}),
        data(reporter={"kind": SECRET, "id": SECRET * 30}),
        data(reporter={"kind": "resident", "id": ""}, description=SECRET, severity=SECRET),
    ],
)
def test_details_name_fields_but_never_repeat_personal_data(payload: dict[str, Any]) -> None:
    result = parse(encode(event(data=payload)), SUBJECT, GRIDS)
    assert isinstance(result, Rejected) and result.reason == "invalid_data", result
    assert SECRET not in result.detail
    assert "data." in result.detail


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def _check(result: Accepted | Rejected) -> None:
    assert isinstance(result, Accepted | Rejected)
    if isinstance(result, Rejected):
        assert result.reason in REJECTION_REASONS
        assert 0 < len(result.detail) <= 300


@given(st.binary(max_size=2000), st.none() | st.binary(max_size=20) | st.text(max_size=20))
def test_arbitrary_bytes_never_raise(raw: bytes, key: bytes | str | None) -> None:
    _check(parse(raw, key, GRIDS))


@given(JSON)
def test_arbitrary_json_never_raises(doc: Any) -> None:
    _check(parse(json.dumps(doc).encode(), None, GRIDS))


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(DATA)),
    st.dictionaries(
        st.sampled_from(["specversion", "id", "source", "type", "subject", "time", "x"]),
        JSON,
        max_size=3,
    ),
    st.dictionaries(
        st.sampled_from(
            ["grid", "category", "severity", "title", "reporter", "location", "departments",
             "unit", "satisfied", "score", "note", "reason", "department", "extra"]
        ),
        JSON,
        max_size=4,
    ),
)
def test_arbitrary_json_in_an_event_never_raises(
    type_: str, attributes: dict[str, Any], payload: dict[str, Any]
) -> None:
    doc = event(type_, **attributes)
    doc["data"] = {**doc["data"], **payload}
    _check(parse(json.dumps(doc).encode(), SUBJECT, GRIDS))


@given(
    st.fixed_dictionaries(
        {
            "description": JSON | st.just(SECRET * 300),
            "reporter": st.fixed_dictionaries({"kind": JSON, "id": st.just(SECRET) | JSON}),
            "location": st.fixed_dictionaries({"address": st.just(SECRET), "lat": JSON}),
            "severity": JSON,
        }
    )
)
def test_no_rejection_repeats_personal_data(payload: dict[str, Any]) -> None:
    result = parse(encode(event(data=data(**payload))), SUBJECT, GRIDS)
    if isinstance(result, Rejected):
        assert SECRET not in result.detail


# --- the rejected topic's record -----------------------------------------------------------


def test_a_rejected_record_keeps_the_original_bytes() -> None:
    raw = b"\xff\x00not json"
    rejected = parse(raw, None, GRIDS)
    assert isinstance(rejected, Rejected)
    when = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    record = RejectedRecord.of(
        rejected,
        key=SUBJECT.encode(),
        value=raw,
        headers=[("trace", b"abc"), ("bin", b"\x80"), ("none", None)],
        topic="issues.events",
        partition=3,
        offset=42,
        timestamp=when,
    )
    assert record.key == Payload(encoding="utf-8", data=SUBJECT)
    assert record.value is not None and record.value.encoding == "base64"
    assert record.value.to_bytes() == raw
    assert [h.value.to_bytes() if h.value else None for h in record.headers] == [
        b"abc",
        b"\x80",
        None,
    ]
    again = RejectedRecord.model_validate_json(record.model_dump_json())
    assert again == record


def test_a_rejected_record_may_have_null_key_and_value() -> None:
    record = RejectedRecord.of(
        Rejected("invalid_json", "line 1 column 1: Expecting value"),
        key=None,
        value=None,
        topic="issues.events",
        partition=0,
        offset=0,
    )
    assert (record.key, record.value, record.headers) == (None, None, ())


def _both_paths(raw: bytes, key: str | None) -> tuple[Any, Any]:
    """parse() as it runs (pydantic's JSON parser first) and with the standard library's
    parser forced (the path for long values and for what pydantic's refuses)."""
    import engine.domain.parse as module

    fast = parse(raw, key, GRIDS)
    saved = module._FAST_JSON_MAX
    module._FAST_JSON_MAX = -1
    try:
        slow = parse(raw, key, GRIDS)
    finally:
        module._FAST_JSON_MAX = saved
    return fast, slow


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(DATA)),
    st.dictionaries(st.sampled_from(["id", "source", "time", "x", "subject"]), JSON, max_size=2),
    st.dictionaries(st.sampled_from(["grid", "title", "note", "score", "satisfied", "extra"]),
                    JSON, max_size=3),
    st.sampled_from(["", "dup", "nan", "cut", "surrogate", "bom"]),
)
def test_the_fast_json_path_decides_as_the_standard_library_path(
    type_: str, attributes: dict[str, Any], payload: dict[str, Any], damage: str
) -> None:
    doc = event(type_, **attributes)
    doc["data"] = {**doc["data"], **payload}
    raw = json.dumps(doc, ensure_ascii=False).encode()
    if damage == "dup":  # a duplicate key: both take the last
        raw = raw[:-1] + b', "id": "dup-1"}'
    elif damage == "nan":
        raw = raw[:-1] + b', "x": NaN}'
    elif damage == "cut":
        raw = raw[: len(raw) // 2]
    elif damage == "surrogate":
        raw = raw[:-1] + b', "x": "\\ud800"}'
    elif damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    fast, slow = _both_paths(raw, SUBJECT)
    assert fast == slow
