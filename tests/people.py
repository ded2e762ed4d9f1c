"""Shared pieces of the claims and points tests: a rule set with both, and a tiny driver."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.domain.decide import decide
from engine.domain.decision import Decision
from engine.domain.events import DeadlineReached, Envelope
from engine.domain.ruleset import ClaimRules, PointRule, Ruleset
from engine.domain.state import IssueState
from tests.factories import T0, event, minutes, raised, ruleset

M = timedelta(minutes=1)
PM = {"kind": "party_member", "id": "pm-0001"}
VOL = {"kind": "volunteer", "id": "vol-0002"}
RIDER = {"kind": "rider", "id": "rd-0003"}

POINTS = (
    PointRule(id="rider-urgent", role="reporter", kinds=("rider",), severities=("urgent",),
              points=10),
    PointRule(id="rider", role="reporter", kinds=("rider",), points=5),
    PointRule(id="claim-resolved", role="claimant", points=3),
    PointRule(id="claim-satisfied", role="claimant", on="satisfied", points=7),
)


def people_rules(expire: int = 90, max_active: int = 8, **kw: Any) -> Ruleset:
    """The factories' rule set (grid respond 30m / resolve 2h, ...) with claims expiring after
    ``expire`` minutes (the emergency rule: 20) and ``POINTS``."""
    claims = ClaimRules(expire_after=minutes(expire), by_rule={"emergency": minutes(20)},
                        max_active=max_active)
    return ruleset(**kw).model_copy(update={"claims": claims, "points": POINTS})


class Issue:
    """One issue driven through ``decide`` with the effective times as ``now``."""

    def __init__(self, rules: Ruleset | None = None, issue: str = "A") -> None:
        self.rules = rules or people_rules()
        self.issue = issue
        self.state: IssueState | None = None
        self.decisions: list[Decision] = []

    def feed(self, e: Envelope | DeadlineReached, now: datetime | None = None) -> Decision:
        when = now or (e.due if isinstance(e, DeadlineReached) else e.time)
        d = decide(self.state, e, self.rules, when)
        if d.state is not None:
            self.state = d.state
        self.decisions.append(d)
        return d

    def fact(self, kind: str, minute: float, **data: Any) -> Decision:
        return self.feed(event(kind, self.issue, T0 + minute * M, **data))

    def raise_(self, reporter: dict[str, str] | None = None, **extra: Any) -> Decision:
        if reporter is not None:
            extra["reporter"] = reporter
        return self.feed(raised(self.issue, T0, **extra))

    def tick(self, minute: float) -> Decision | None:
        """Fire what is due by ``minute`` (the earliest deadline's token, as the shell does)."""
        assert self.state is not None
        first = min(self.state.deadlines, key=lambda d: d.due, default=None)
        if first is None:
            return None
        return self.feed(DeadlineReached(issue_id=self.issue, due=first.due, token=first.token),
                         T0 + minute * M)

    def emitted(self, type_: str | None = None) -> list[Any]:
        return [e for d in self.decisions for e in d.emit if type_ is None or e.type == type_]
