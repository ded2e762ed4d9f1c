"""The OpenAPI 3.1 document of the workers' HTTP API, generated from ``engine.web.models``
(written to ``schemas/openapi.yaml`` by ``make schemas`` with the event schemas)."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from engine.domain.ruleset import LEVELS
from engine.web.issues import DEFAULT_LIMIT, MAX_LIMIT, STATUSES
from engine.web.models import Issue, IssuePage, Problem

REF = "#/components/schemas/{model}"


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=ref)}}}}


def document() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "serialization") for m in (IssuePage, Issue, Problem)],
                                 ref_template=REF)
    bad = _json("Problem", "a bad query parameter (the detail names it and says why)")
    busy = _json("Problem", "not every partition answered (a worker starting, rebalancing or "
                            "unreachable); retry")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Whistle workers' HTTP API: who holds what",
            "version": "1",
            "description": (
                "Served by every worker on its web port (WHISTLE_WEB_PORT). Every worker "
                "answers for every issue: it asks the other workers of its consumer group for "
                "their partitions and answers only when every partition answered. Lists are "
                "in issue-id order, paged by an opaque cursor. Responses carry ids, levels, "
                "times and outcomes only: no reporter, title, description or location."),
        },
        "paths": {
            "/api/issues": {"get": {
                "summary": "Issues held now, filtered, one page at a time",
                "operationId": "listIssues",
                "parameters": [
                    _param("unit", "held by this unit (a grid, village, street or department "
                                   "id)", {"type": "string"}),
                    _param("level", "at this level", {"type": "string", "enum": list(LEVELS)}),
                    _param("street", "raised in this street (its id)", {"type": "string"}),
                    _param("status", "in this status", {"type": "string",
                                                        "enum": list(STATUSES)}),
                    _param("overdue", "true: only overdue issues; false: only those that are "
                                      "not", {"type": "boolean"}),
                    _param("limit", "issues per page", {"type": "integer", "minimum": 1,
                                                        "maximum": MAX_LIMIT,
                                                        "default": DEFAULT_LIMIT}),
                    _param("cursor", "next_cursor of the page before", {"type": "string"}),
                ],
                "responses": {"200": _json("IssuePage", "one page"), "400": bad, "503": busy},
            }},
            "/api/issues/{issue_id}": {"get": {
                "summary": "One issue: its level, holders, limits, path, reports and claims",
                "operationId": "getIssue",
                "parameters": [{"name": "issue_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": _json("Issue", "the issue as its worker holds it now"),
                    "404": _json("Problem", "no worker holds it (never raised, or closed and "
                                            "retired from the table: see issues.closed)"),
                    "400": bad, "503": busy,
                },
            }},
            "/": {"get": {
                "summary": "The operator page (HTML; ?part=main: its main part, for refresh)",
                "operationId": "operatorPage",
                "responses": {"200": {"description": "the page",
                                      "content": {"text/html": {"schema": {"type": "string"}}}}},
            }},
        },
        "components": {"schemas": defs["$defs"]},
    }
