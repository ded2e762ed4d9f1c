"""What returns and extensions add to moves that ``lifecycle`` makes (its only hooks into them).

Kept apart from ``engine.domain.returns`` and ``engine.domain.extensions``, which build on
``lifecycle``, so that ``lifecycle`` can call these without an import cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.domain.draft import Draft
from engine.domain.events import ExtensionEntry, ReturnEntry
from engine.domain.fast import make
from engine.domain.state import IssueState


def closure_fields(s: IssueState) -> dict[str, Any]:
    """The closure's ``returns`` and ``extensions``: every one asked for, as decided."""
    return {
        "returns": tuple(make(ReturnEntry, {
            "unit": r.unit, "level": r.level, "reason_code": r.reason_code,
            "requested_at": r.requested_at, "adjudicator": r.adjudicator,
            "decision": r.decision, "by": r.by, "decided_at": r.decided_at, "to": r.to,
        }) for r in s.returns),
        "extensions": tuple(make(ExtensionEntry, {
            "unit": e.unit, "level": e.level, "requested_at": e.requested_at,
            "previous_resolve_by": e.previous_resolve_by, "requested_until": e.requested_until,
            "decision": e.decision, "approver": e.approver, "decided_at": e.decided_at,
            "until": e.until, "missed": e.missed,
        }) for e in s.extensions),
    }


def resolve_missed(draft: Draft, due: datetime) -> None:
    """A resolve limit passed: if an approved extension had set it, mark that extension missed
    (overdue even after extension) and count it."""
    s = draft.state
    for i in range(len(s.extensions) - 1, -1, -1):
        e = s.extensions[i]
        if e.decision == "approved" and e.until == due and e.entered_at == s.entered_at:
            if not e.missed:
                draft.update(extensions=(*s.extensions[:i], e._replace(missed=True),
                                         *s.extensions[i + 1:]))
                draft.count("whistle_extensions_total", (("unit", e.unit), ("stage", "missed")))
            return
