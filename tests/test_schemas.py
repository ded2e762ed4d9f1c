"""schemas/: checked in, equal to what the models generate, and internally consistent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.domain.events import INBOUND_TYPES, OUTBOUND_TYPES
from engine.domain.parse import Rejected, RejectedRecord, parse
from engine.schemas_export import SCHEMA_DIR, drift, main, render, write
from tests.test_parse import EXAMPLES, encode, event

TOPICS = {"issues.events", "issues.lifecycle", "issues.closed", "issues.rejected",
          "points.ledger"}


def test_checked_in_schemas_match_the_models() -> None:
    differing = drift(SCHEMA_DIR)
    assert not differing, (
        f"schemas/ is out of date ({', '.join(differing)}): run `make schemas` and commit it"
    )


def test_there_is_a_schema_for_every_event_type() -> None:
    files = render()
    assert {f"inbound/{t}.json" for t in INBOUND_TYPES} <= files.keys()
    assert {f"outbound/{t}.json" for t in OUTBOUND_TYPES} <= files.keys()
    assert {"rejected.json", "asyncapi.yaml"} <= files.keys()


def test_output_is_deterministic_with_sorted_keys_and_a_trailing_newline() -> None:
    first, second = render(), render()
    assert first == second
    for rel, text in first.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), rel
        if rel.endswith(".json"):
            again = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
            assert text == again + "\n", rel


def test_cloudevents_attributes_are_required_in_every_event_schema() -> None:
    for rel, text in render().items():
        if rel.startswith(("inbound/", "outbound/")):
            schema = json.loads(text)
            required = set(schema["required"])
            assert {"specversion", "id", "source", "type", "subject", "time", "data"} <= required
            assert schema["$id"].endswith(rel) and schema["title"] == Path(rel).stem


def test_check_mode_lists_drift_and_write_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "inbound" / "issue.raised.json").write_text("{}\n")
    (tmp_path / "outbound" / "issue.gone.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "issue.raised.json" in err and "issue.gone.json" in err and "make schemas" in err
    write(tmp_path)
    assert drift(tmp_path) == []
    assert not (tmp_path / "outbound" / "issue.gone.json").exists()


# --- the AsyncAPI document --------------------------------------------------------------------


def _asyncapi() -> dict[str, Any]:
    doc = yaml.safe_load((SCHEMA_DIR / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _pointer(doc: Any, pointer: str) -> Any:
    for part in pointer.lstrip("/").split("/"):
        doc = doc[part.replace("~1", "/").replace("~0", "~")]
    return doc


def test_asyncapi_is_3_0_and_names_the_five_public_topics() -> None:
    doc = _asyncapi()
    assert doc["asyncapi"].startswith("3.0")
    assert {c["address"] for c in doc["channels"].values()} == TOPICS


def test_every_asyncapi_ref_resolves() -> None:
    doc = _asyncapi()
    refs = _refs(doc)
    assert any(r.startswith("./inbound/") for r in refs)
    for ref in refs:
        target, _, pointer = ref.partition("#")
        if target:
            path = (SCHEMA_DIR / target).resolve()
            assert path.is_file(), f"{ref} points to no file"
            if pointer:
                _pointer(json.loads(path.read_text(encoding="utf-8")), pointer)
        else:
            _pointer(doc, pointer)  # raises KeyError when the local target is missing


def test_asyncapi_operations_send_inbound_and_receive_the_rest() -> None:
    doc = _asyncapi()
    actions = {
        _pointer(doc, op["channel"]["$ref"].lstrip("#"))["address"]: op["action"]
        for op in doc["operations"].values()
    }
    assert actions == {
        "issues.events": "send",
        "issues.lifecycle": "receive",
        "issues.closed": "receive",
        "issues.rejected": "receive",
        "points.ledger": "receive",
    }


def test_every_event_message_is_a_structured_cloudevent_keyed_by_issue_id() -> None:
    messages = _asyncapi()["components"]["messages"]
    assert set(INBOUND_TYPES) | set(OUTBOUND_TYPES) <= messages.keys()
    for name, message in messages.items():
        if name == "rejected":
            continue
        assert message["contentType"] == "application/cloudevents+json"
        assert "issue id" in message["bindings"]["kafka"]["key"]["description"]


# --- the examples against the exported schemas ------------------------------------------------


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_each_inbound_example_validates_against_its_exported_schema(type_: str) -> None:
    _validator(f"inbound/{type_}.json").validate(EXAMPLES[type_])


def _validator(rel: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMA_DIR / rel).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_a_rating_of_6_fails_both_parse_and_the_schema() -> None:
    doc = event("issue.rated", data={"satisfied": True, "score": 6})
    assert not _validator("inbound/issue.rated.json").is_valid(doc)
    assert parse(encode(doc), None, ()) == Rejected(
        "invalid_data", "data.score: Input should be less than or equal to 5"
    )


def test_a_rejected_record_validates_against_rejected_json() -> None:
    rejected = parse(b"\xff", None, ())
    assert isinstance(rejected, Rejected)
    record = RejectedRecord.of(
        rejected,
        key=b"XS-1",
        value=b"\xff",
        headers=[("h", None)],
        topic="issues.events",
        partition=0,
        offset=7,
    )
    _validator("rejected.json").validate(json.loads(record.model_dump_json()))
