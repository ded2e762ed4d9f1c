"""Claims (认领): people who take an issue on to help with it, beside the units that hold it.

A claim never moves the issue on its unit's ladder; it records who is helping (docs/claims.md):

- ``issue.claimed`` {claimant {kind, id}, note}: the claimant holds a claim from the fact's time.
  Refused (rejected, with a reason): an issue that is not open (``claim_not_open``: closed, or
  resolved and awaiting its rating), a claimant who already holds a claim on it
  (``claim_held``), more than ``max_active`` claims held at once (``claim_limit``).
- ``issue.claim_released`` {claimant}: the claim ends, released. Refused when the claimant holds
  no claim on the issue (``claim_not_held``) or the issue is closed (``claim_not_open``).
- An *act* is an ``issue.progressed`` or ``issue.resolved`` that names the claimant in
  ``data.claimant``: the holding unit records the claimant's work. It re-arms the claim's expiry
  from the fact's time. A fact naming a claimant who holds no claim is refused
  (``claim_not_held``): the unit's move is not applied either, nothing is half done.
- A claim whose claimant does not act within the rule set's ``claims.expire_after`` (counted
  from the claim, then from each act) expires: ``issue.claim_expired``. The expiry is a
  deadline of kind ``claim`` among the issue's deadlines, so it is durable (the table) and
  wakes the issue like any limit. Its clock stops while the issue is resolved and awaits its
  rating, and starts again, full, if the rating reopens it.
- ``issue.closed`` lists every claim with its outcome: released, expired, or held (still held
  when the issue closed).

The ladder's moves replace the issue's deadlines wholesale (a climb, a new level, a resolution);
``sync`` puts the claim deadlines back from the claims after each move, so the lifecycle needs
to know of claims only to fire their expiry and to list them at closure.
"""

from __future__ import annotations

from datetime import datetime

from engine.domain.draft import Draft
from engine.domain.events import (
    Claimant,
    ClaimExpiredData,
    ClaimRecord,
    IssueClaimed,
    IssueClaimExpired,
    IssueClaimReleased,
    IssueProgressed,
    IssueResolved,
)
from engine.domain.fast import make
from engine.domain.ruleset import Ruleset
from engine.domain.state import Claim, Deadline, IssueState

MAX_CLAIMS = 64  # claims remembered per issue (ended ones included); a bound on the state

# Decision reasons of refused claims; the shell maps each to a rejection (``DECISION_REJECTIONS``)
CLAIM_REASONS = ("claim_not_open", "claim_held", "claim_not_held", "claim_limit")


def _find(state: IssueState, claimant: Claimant) -> int | None:
    for i, c in enumerate(state.claims):
        if c.active and c.kind == claimant.kind and c.id == claimant.id:
            return i
    return None


def check(state: IssueState, event: object, rules: Ruleset) -> str:
    """Why a claim fact (or an act) cannot be applied to ``state``; "" if it can. Checked
    before anything is decided: a refused claim changes nothing."""
    if isinstance(event, IssueClaimed):
        if state.status != "open":
            return "claim_not_open"
        if _find(state, event.data.claimant) is not None:
            return "claim_held"
        if len(state.claims) >= MAX_CLAIMS or sum(c.active for c in state.claims) >= (
                rules.claims.max_active):
            return "claim_limit"
        return ""
    if isinstance(event, IssueClaimReleased):
        if state.status == "closed":
            return "claim_not_open"
        return "" if _find(state, event.data.claimant) is not None else "claim_not_held"
    if isinstance(event, IssueProgressed | IssueResolved) and event.data.claimant is not None:
        if state.status == "closed":
            return ""  # the fact does not fit a closed issue anyway (unfit "closed")
        return "" if _find(state, event.data.claimant) is not None else "claim_not_held"
    return ""


def claimed(draft: Draft, claimant: Claimant, at: datetime) -> None:
    s = draft.state
    expires = draft.add(at, draft.rules.claims.expiry(s.rule))
    claim = Claim(claimant.kind, claimant.id, at, None, expires, draft.version)
    draft.update(claims=(*s.claims, claim))
    draft.count("whistle_claims_total", (("kind", claimant.kind), ("outcome", "claimed")))


def released(draft: Draft, claimant: Claimant, at: datetime) -> None:
    s = draft.state
    i = _find(s, claimant)
    assert i is not None  # ``check`` refused it otherwise
    claims = list(s.claims)
    claims[i] = claims[i]._replace(released_at=at, expires_at=None)
    draft.update(claims=tuple(claims))
    draft.count("whistle_claims_total", (("kind", claimant.kind), ("outcome", "released")))


def acted(draft: Draft, claimant: Claimant, at: datetime) -> None:
    """The claimant acted (an accepted progressed/resolved naming them): the expiry re-arms."""
    s = draft.state
    i = _find(s, claimant)
    if i is None:
        return
    claims = list(s.claims)
    expires = draft.add(at, draft.rules.claims.expiry(s.rule))
    claims[i] = claims[i]._replace(acted_at=at, expires_at=expires, token=draft.version)
    draft.update(claims=tuple(claims))


def expire(draft: Draft, d: Deadline) -> None:
    """A claim's expiry fired (from ``deadlines.fire``): the claim ends, expired."""
    s = draft.state
    claims = list(s.claims)
    for i, c in enumerate(claims):
        if c.active and c.key == d.unit and c.expires_at == d.due:
            claims[i] = c = c._replace(expired_at=d.due, expires_at=None)
            break
    else:
        return
    draft.update(claims=tuple(claims))
    draft.send(IssueClaimExpired, make(ClaimExpiredData, {
        "sequence": draft.version, "claimant": Claimant(kind=c.kind, id=c.id),  # type: ignore[arg-type]  # a stored kind is a ClaimantKind
        "claimed_at": c.claimed_at, "acted_at": c.acted_at, "expired_at": d.due,
        "rule": s.rule,
    }), d.due)
    draft.count("whistle_claims_total", (("kind", c.kind), ("outcome", "expired")))


def sync(draft: Draft, at: datetime) -> None:
    """The claim deadlines from the claims, after a move that replaced the deadlines.

    While the issue is open every active claim has one (a claim whose clock was stopped starts
    again, full, from ``at``); otherwise none (the clock stops while the issue awaits its
    rating)."""
    s = draft.state
    if not s.claims:
        return
    opened = s.status == "open"
    claims = list(s.claims)
    wanted: list[Deadline] = []
    for i, c in enumerate(claims):
        if not c.active:
            continue
        if not opened:
            if c.expires_at is not None:
                claims[i] = c._replace(expires_at=None)
            continue
        if c.expires_at is None:
            expires = draft.add(at, draft.rules.claims.expiry(s.rule))
            claims[i] = c = c._replace(expires_at=expires, token=draft.version)
        assert c.expires_at is not None
        wanted.append(Deadline("claim", c.key, c.expires_at, c.token))
    deadlines = (*[d for d in s.deadlines if d.kind != "claim"], *wanted)
    changes: dict[str, object] = {}
    if deadlines != s.deadlines:
        changes["deadlines"] = deadlines
    if claims != list(s.claims):
        changes["claims"] = tuple(claims)
    if changes:
        draft.update(**changes)


def records(state: IssueState) -> tuple[ClaimRecord, ...]:
    """Every claim of ``state`` as ``issue.closed`` lists it."""
    out = []
    for c in state.claims:
        outcome = "released" if c.released_at else "expired" if c.expired_at else "held"
        out.append(make(ClaimRecord, {
            "claimant": make(Claimant, {"kind": c.kind, "id": c.id}),
            "claimed_at": c.claimed_at, "acted_at": c.acted_at, "released_at": c.released_at,
            "expired_at": c.expired_at, "outcome": outcome,
        }))
    return tuple(out)


def held_at_close(draft: Draft) -> None:
    """Count the claims still held when the issue closes (outcome ``held``)."""
    for c in draft.state.claims:
        if c.active:
            draft.count("whistle_claims_total", (("kind", c.kind), ("outcome", "held")))
