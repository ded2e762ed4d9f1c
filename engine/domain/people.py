"""Facts about people on an issue, around the lifecycle's own: claims, acts, points.

``apply`` is what ``decide`` calls for an inbound fact: the claim facts are applied here, every
other fact goes to ``lifecycle.apply``, and what it did to the issue's status drives the points
(resolved: awards; reopened: reversals). Then the claim deadlines are put back (``claims.sync``).
"""

from __future__ import annotations

from datetime import datetime

from engine.domain import claims, lifecycle, points
from engine.domain.draft import Draft
from engine.domain.events import (
    Envelope,
    IssueClaimed,
    IssueClaimReleased,
    IssueProgressed,
    IssueRaised,
    IssueResolved,
)

# The facts ``claims.check`` looks at before a decision (progressed/resolved: acts)
CLAIM_FACTS = (IssueClaimed, IssueClaimReleased, IssueProgressed, IssueResolved)


def reporter_of(event: IssueRaised) -> tuple[str, str] | None:
    """The reporter points can go to: one named with an id (an anonymous report earns none)."""
    r = event.data.reporter
    return (r.kind, r.id) if r is not None and r.id is not None else None


def apply(draft: Draft, event: Envelope, at: datetime) -> str:
    """Apply one inbound fact; "" if it fit, else the reason it did not (``lifecycle.apply``)."""
    if isinstance(event, IssueClaimed):
        claims.claimed(draft, event.data.claimant, at)
        claims.sync(draft, at)
        return ""
    if isinstance(event, IssueClaimReleased):
        claims.released(draft, event.data.claimant, at)
        claims.sync(draft, at)
        return ""
    before = draft.state.status
    reason = lifecycle.apply(draft, event, at)
    if reason:
        return reason
    if isinstance(event, IssueProgressed | IssueResolved) and event.data.claimant is not None:
        claims.acted(draft, event.data.claimant, at)
    after = draft.state.status
    if before == "open" and after == "resolved":
        points.award(draft, at, "resolved")
    elif before == "resolved" and after == "open":
        points.reverse(draft, at, "reopened")
    claims.sync(draft, at)
    return ""
