"""Writes ``schemas/`` from the event models: what integrators read instead of our code.

``python -m engine.schemas_export`` (``make schemas``) rewrites every file; ``--check`` writes
nothing and exits 1 listing the files that differ (or are missing, or are not generated any more).

- ``inbound/<type>.json``, ``outbound/<type>.json``: JSON Schema (2020-12) of each event model.
- ``rejected.json``: the ``issues.rejected`` record.
- ``asyncapi.yaml``: AsyncAPI 3.0 over the five public topics, referencing the files above.
- ``openapi.yaml``: OpenAPI 3.1 of the workers' HTTP API (``engine.web.openapi``).

Output is deterministic (sorted keys, two-space indent, trailing newline) so a test can compare
the checked-in files with what the code generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from engine.domain.events import INBOUND_TYPES, LEDGER_TYPES, OUTBOUND_TYPES
from engine.domain.parse import REJECTION_REASONS, RejectedRecord
from engine.web import openapi

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_VERSION = "1"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
CLOUDEVENTS_JSON = "application/cloudevents+json"
KAFKA_BINDING = "0.5.0"

MEANINGS = {
    "issue.raised": "A problem is raised at a grid.",
    "issue.acknowledged": "The holding unit responds (签收/响应).",
    "issue.whistled": "The holding unit blows the whistle: pass it up (吹哨).",
    "issue.reported": "A department checks in on an issue passed to it (报到).",
    "issue.progressed": "Feedback on progress (反馈).",
    "issue.resolved": "The holding unit says it is solved.",
    "issue.rated": "The resident's evaluation (回访).",
    "issue.withdrawn": "The reporter withdraws it.",
    "issue.assigned": "The issue lands on a level.",
    "issue.escalated": "The issue moves up a level.",
    "issue.warning": "A limit is close (pre-breach).",
    "issue.overdue": "A limit passed.",
    "issue.reopened": "The resident was not satisfied; the issue is open again.",
    "issue.closed": "The loop is closed.",
    "issue.claimed": "A person claims the issue to help with it (认领); it stays on its ladder.",
    "issue.claim_released": "The claimant lets the claim go.",
    "issue.claim_expired": "The claimant did not act within the rules' time: the claim ended.",
    "points.awarded": "Points (积分) for a person, on points.ledger; the id is deterministic.",
    "points.reversed": "An award taken back (the issue reopened or was withdrawn).",
    "issue.park_requested": "A holding unit asks to park the issue (挂账) until a review date.",
    "issue.park_decided": "An approver named by the rule approves or rejects a park request.",
    "issue.unparked": "A holding unit or an approver resumes a parked issue.",
    "issue.urged": "A step of the rule's urging ladder (催办) for a missed limit.",
    "issue.supervised": "The urging ladder's supervision step: a supervision case (督办).",
    "issue.park_pending": "A park request waits for an approver; the clock runs meanwhile.",
    "issue.parked": "A park request was approved: the unit's limits pause.",
    "issue.park_refused": "A park request was rejected.",
    "issue.review_due": "A parked issue's review date has come.",
    "issue.resumed": "A parked issue resumed: its pending limits moved by the paused time.",
    "issue.return_requested": "The holding unit returns the issue as not its business (退单).",
    "issue.return_decided": "The adjudicator accepts a return (and re-routes) or rejects it.",
    "issue.extension_requested": "The holding unit asks for more time on its limit (延期).",
    "issue.extension_decided": "The approver approves or rejects an extension.",
    "issue.return_pending": "A return waits for its adjudicator.",
    "issue.extension_pending": "An extension waits for one of its approvers.",
    "issue.extended": "A unit's resolve limit moved: tell the resident.",
}


def _schema_id(path: str) -> str:
    return f"urn:whistle:schemas:v{SCHEMA_VERSION}:{path}"


def event_schema(model: type[BaseModel], direction: str, type_: str) -> dict[str, Any]:
    """The JSON Schema of one event model, with ``$id``, a title and CloudEvents' required set.

    The models give ``specversion`` and ``type`` defaults (handy when constructing events), which
    would leave them optional in the schema; on the wire CloudEvents requires both, and so does
    ``parse()``, so the schema says so.
    """
    schema = model.model_json_schema()
    required = list(schema.get("required", []))
    for name in ("specversion", "source", "type"):
        if name not in required:
            required.append(name)
    schema["required"] = required
    schema["$schema"] = DIALECT
    schema["$id"] = _schema_id(f"{direction}/{type_}.json")
    schema["title"] = type_
    schema["description"] = f"{MEANINGS.get(type_, type_)} A CloudEvents 1.0 event (JSON)."
    return schema


def rejected_schema() -> dict[str, Any]:
    schema = RejectedRecord.model_json_schema()
    schema["$schema"] = DIALECT
    schema["$id"] = _schema_id("rejected.json")
    schema["title"] = "issues.rejected record"
    return schema


def _messages(types: Sequence[str]) -> dict[str, Any]:
    return {t: {"$ref": f"#/components/messages/{t}"} for t in types}


def _channel_refs(channel: str, types: Sequence[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{t}"} for t in types]


def asyncapi() -> dict[str, Any]:
    inbound = sorted(INBOUND_TYPES)
    outbound = sorted(OUTBOUND_TYPES)
    lifecycle = [t for t in outbound if t not in LEDGER_TYPES]
    ledger = sorted(LEDGER_TYPES)

    def issue_key() -> dict[str, str]:  # a fresh dict each time: no YAML anchors in the output
        return {
            "type": "string",
            "description": "The issue id (UTF-8); equals the event's `subject`.",
        }

    def event_message(type_: str, direction: str) -> dict[str, Any]:
        return {
            "name": type_,
            "title": type_,
            "summary": MEANINGS[type_],
            "contentType": CLOUDEVENTS_JSON,
            "payload": {"$ref": f"./{direction}/{type_}.json"},
            "bindings": {"kafka": {"key": issue_key(), "bindingVersion": KAFKA_BINDING}},
        }

    messages = {t: event_message(t, "inbound") for t in inbound}
    messages.update({t: event_message(t, "outbound") for t in outbound})
    messages["rejected"] = {
        "name": "rejected",
        "title": "Rejected inbound record",
        "summary": (
            "An inbound record that could not be accepted, with the reason "
            f"({', '.join(REJECTION_REASONS)}), a readable detail and the original bytes."
        ),
        "contentType": "application/json",
        "payload": {"$ref": "./rejected.json"},
        "bindings": {
            "kafka": {
                "key": {
                    "type": ["string", "null"],
                    "description": "The original record's key, unchanged (null if it had none).",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }

    def channel(address: str, description: str, types: Sequence[str]) -> dict[str, Any]:
        return {
            "address": address,
            "description": description,
            "messages": _messages(types),
            "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING}},
        }

    channels = {
        "issuesEvents": channel(
            "issues.events",
            "Inbound facts from upstream systems, keyed by issue id. Anything that cannot be "
            "accepted goes to issues.rejected; nothing is dropped silently.",
            inbound,
        ),
        "issuesLifecycle": channel(
            "issues.lifecycle",
            "Every event the engine emits about issues, keyed by issue id.",
            lifecycle,
        ),
        "issuesClosed": channel(
            "issues.closed",
            "issue.closed only: the closed loop, keyed by issue id.",
            ["issue.closed"],
        ),
        "issuesRejected": channel(
            "issues.rejected",
            "Inbound records that could not be accepted, keyed by their original key.",
            ["rejected"],
        ),
        "pointsLedger": channel(
            "points.ledger",
            "The points (积分) ledger: points.awarded and points.reversed, keyed by issue id. "
            "Delivery is at least once; event ids are deterministic, so dedupe by id.",
            ledger,
        ),
    }

    def operation(action: str, chan: str, types: Sequence[str], summary: str) -> dict[str, Any]:
        return {
            "action": action,
            "channel": {"$ref": f"#/channels/{chan}"},
            "summary": summary,
            "messages": _channel_refs(chan, types),
        }

    operations = {
        "sendIssueEvents": operation(
            "send", "issuesEvents", inbound, "Upstream systems publish facts about issues."
        ),
        "receiveLifecycle": operation(
            "receive", "issuesLifecycle", lifecycle, "Follow every decision the engine makes."
        ),
        "receivePoints": operation(
            "receive", "pointsLedger", ledger, "Keep people's points (积分) accounts."
        ),
        "receiveClosed": operation(
            "receive", "issuesClosed", ["issue.closed"], "Close the loop in upstream systems."
        ),
        "receiveRejected": operation(
            "receive", "issuesRejected", ["rejected"], "Find and fix what could not be accepted."
        ),
    }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Whistle",
            "version": SCHEMA_VERSION,
            "description": (
                "Event-driven issue escalation (吹哨报到): grid, village, street, departments. "
                "Events are CloudEvents 1.0 in structured JSON mode, keyed by issue id. Topic "
                "names are the defaults (one configurable prefix). Operations are described "
                "from an integrator's point of view."
            ),
        },
        "defaultContentType": CLOUDEVENTS_JSON,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _yaml(doc: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(
        doc, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100
    )
    return text


def render() -> dict[str, str]:
    """Every file of ``schemas/``: relative path -> content."""
    files = {
        f"inbound/{t}.json": _json(event_schema(m, "inbound", t)) for t, m in INBOUND_TYPES.items()
    }
    files.update(
        {
            f"outbound/{t}.json": _json(event_schema(m, "outbound", t))
            for t, m in OUTBOUND_TYPES.items()
        }
    )
    files["rejected.json"] = _json(rejected_schema())
    files["asyncapi.yaml"] = _yaml(asyncapi())
    files["openapi.yaml"] = _yaml(openapi.document())  # the workers' HTTP API (engine.web)
    return dict(sorted(files.items()))


def _on_disk(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in {".json", ".yaml"}
    }


def drift(root: Path = SCHEMA_DIR) -> list[str]:
    """Files under ``root`` that differ from what the code generates, missing or stale."""
    files = render()
    out = []
    for rel in sorted(files.keys() | _on_disk(root)):
        path = root / rel
        if rel not in files:
            out.append(f"{rel} (not generated any more)")
        elif not path.is_file():
            out.append(f"{rel} (missing)")
        elif path.read_text(encoding="utf-8") != files[rel]:
            out.append(rel)
    return out


def write(root: Path = SCHEMA_DIR) -> list[str]:
    """(Re)write every file, remove stale ones; returns what changed."""
    changed = drift(root)
    files = render()
    for rel in _on_disk(root) - files.keys():
        (root / rel).unlink()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.schemas_export", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="default: %(default)s")
    args = parser.parse_args(argv)
    root: Path = args.dir
    if args.check:
        differing = drift(root)
        for rel in differing:
            print(f"{root / rel}", file=sys.stderr)
        if differing:
            print("schemas/ is out of date: run `make schemas`", file=sys.stderr)
            return 1
        return 0
    for line in write(root):
        print(f"wrote {root / line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
