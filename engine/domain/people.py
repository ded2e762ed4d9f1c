"""Facts about people on an issue, around the lifecycle's own: claims, acts, points.

``decide`` calls ``apply`` for the claim facts and the acts (a progressed/resolved naming a
claimant), ``lifecycle.apply`` for every other fact; either way, what the fact did to the
issue's status drives the points (``moved``: resolved awards, reopened reverses), and the claim
deadlines are put back after the move (``claims.sync``). The common facts pay a set lookup and
a status comparison for all this.
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
    IssueResolved,
)

# The claim facts, and the facts that are acts when they name a claimant (``data.claimant``)
CLAIM_TYPES = frozenset((IssueClaimed, IssueClaimReleased))
ACT_TYPES = frozenset((IssueProgressed, IssueResolved))


def apply(draft: Draft, event: Envelope, at: datetime) -> str:
    """Apply a claim fact, or an act (a progressed/resolved naming a claimant); "" if it fit,
    else the reason it did not (``lifecycle.apply``'s). ``claims.check`` has passed."""
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
    if draft.state.status != before:
        moved(draft, before, at)
    claims.sync(draft, at)
    return ""


def moved(draft: Draft, before: str, at: datetime) -> None:
    """A fact moved the issue from status ``before``: resolved awards, reopened reverses."""
    after = draft.state.status
    if before == "open" and after == "resolved":
        points.award(draft, at, "resolved")
    elif before == "resolved" and after == "open":
        points.reverse(draft, at, "reopened")
