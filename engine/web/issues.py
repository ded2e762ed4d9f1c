"""Issue states as the API shows them, the list query, and one worker's answer (no I/O).

Order and pages: a list is in issue-id order (plain string order, stable whatever the workers
or the partitions), and a page ends with a cursor naming the last id it holds; the next page
is the issues after that id (keyset pagination: an issue raised meanwhile with a smaller id is
not seen by a walk already past it, and no issue is seen twice).

"Overdue" is judged at the engine's clock (``as_of``): an issue that is not closed is overdue
when a limit of its current level has passed unmet: its response (below the department level,
not yet given), its resolution (while open), or a department's report still due.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from engine.domain.ruleset import LEVELS
from engine.domain.state import IssueState
from engine.web.models import Issue, Limit, Missed, Report, Status, Step

STATUSES: tuple[str, ...] = get_args(Status)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
PARAMETERS = ("unit", "level", "street", "status", "overdue", "limit", "cursor")
INTERNAL = ("scope",)  # scope=local: this worker's own partitions only (workers ask each other)


class BadQuery(ValueError):
    """A query parameter the API cannot take; the message says which and why."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter = parameter
        self.detail = detail


@dataclass(frozen=True)
class Query:
    unit: str | None = None
    level: str | None = None
    street: str | None = None
    status: str | None = None
    overdue: bool | None = None
    limit: int = DEFAULT_LIMIT
    after: str | None = None  # the cursor's issue id: only ids after it

    def matches(self, state: IssueState, overdue: bool) -> bool:
        return ((self.unit is None or self.unit in state.units or self.unit == state.lead)
                and self.could_match(state.status, state.level)
                and (self.street is None or state.street == self.street)
                and (self.overdue is None or overdue == self.overdue))

    def could_match(self, status: str, level: str) -> bool:
        """Whether a state with this status and level can match (the rest is not known)."""
        return ((self.level is None or level == self.level)
                and (self.status is None or status == self.status))

    def params(self) -> dict[str, str]:
        """The query as parameters again (what a worker passes on to the others)."""
        out: dict[str, str] = {k: v for k, v in (("unit", self.unit), ("level", self.level),
                                                 ("street", self.street),
                                                 ("status", self.status)) if v is not None}
        if self.overdue is not None:
            out["overdue"] = "true" if self.overdue else "false"
        out["limit"] = str(self.limit)
        if self.after is not None:
            out["cursor"] = encode_cursor(self.after)
        return out


def parse_query(pairs: Iterable[tuple[str, str]]) -> Query:
    """The list query from its parameters; ``BadQuery`` for the first one it cannot take."""
    given: dict[str, str] = {}
    for key, value in pairs:
        if key not in PARAMETERS and key not in INTERNAL:
            raise BadQuery(key, f"unknown parameter; the parameters are {', '.join(PARAMETERS)}")
        if key in given:
            raise BadQuery(key, "given more than once")
        given[key] = value
    for key in ("unit", "street"):
        if key in given and not given[key].strip():
            raise BadQuery(key, "empty; leave it out to match any")
    level = given.get("level")
    if level is not None and level not in LEVELS:
        raise BadQuery("level", f"{level!r} is not a level; one of {', '.join(LEVELS)}")
    status = given.get("status")
    if status is not None and status not in STATUSES:
        raise BadQuery("status", f"{status!r} is not a status; one of {', '.join(STATUSES)}")
    overdue = given.get("overdue")
    if overdue is not None and overdue not in ("true", "false"):
        raise BadQuery("overdue", f"{overdue!r}: expected true or false")
    limit = DEFAULT_LIMIT
    if "limit" in given:
        text = given["limit"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            raise BadQuery("limit", f"{text!r}: expected a whole number from 1 to {MAX_LIMIT}")
        limit = int(text)
    after = decode_cursor(given["cursor"]) if "cursor" in given else None
    return Query(unit=given.get("unit"), level=level, street=given.get("street"),
                 status=status, overdue=None if overdue is None else overdue == "true",
                 limit=limit, after=after)


def encode_cursor(after: str) -> str:
    raw = json.dumps({"after": after}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("after"), str):
        raise BadQuery("cursor", "not a cursor this API gave (pass next_cursor as it is)")
    return str(doc["after"])


# --- an issue as the API shows it ------------------------------------------------------------


def missed(state: IssueState, now: datetime) -> list[Missed]:
    """The current level's limits that have passed unmet at ``now`` (none once closed). Limits
    paused while the issue is parked, or while a return pauses them, are not missed (they move
    when the clock runs again); a limit missed before the pause stays missed."""
    if state.status == "closed":
        return []
    paused = {(d.kind, d.unit) for d in (
        *(state.parked.paused if state.parked is not None else ()), *state.return_paused)
        if not d.warning}
    out: list[Missed] = []
    if state.status == "open":
        if (state.level != "department" and state.response is None
                and state.respond_by is not None and state.respond_by < now
                and ("respond", state.units[0]) not in paused):
            out.append(Missed(kind="respond", unit=state.units[0], due=state.respond_by))
        holder = state.lead or state.units[0]
        if state.resolve_by < now and ("resolve", holder) not in paused:
            out.append(Missed(kind="resolve", unit=holder, due=state.resolve_by))
    out += [Missed(kind="report", unit=r.department, due=r.due)
            for r in state.reports if r.outcome is None and r.due < now
            and ("report", r.department) not in paused]
    return sorted(out, key=lambda m: m.due)


def claims_of(state: IssueState) -> list[dict[str, Any]]:
    """The claims (认领) on an issue (``IssueState.claims``, ``engine.domain.claims``), as JSON
    objects: claimant kind and opaque id, when claimed, acted, released or expired."""
    out: list[dict[str, Any]] = []
    for claim in getattr(state, "claims", None) or ():
        if isinstance(claim, BaseModel):
            value: Any = claim.model_dump(mode="json")
        elif hasattr(claim, "_asdict"):  # a named tuple
            value = to_jsonable_python(claim._asdict())
        else:
            value = to_jsonable_python(claim)
        out.append(value if isinstance(value, dict) else {"value": value})
    return out


def view(partition: int, state: IssueState, now: datetime) -> Issue:
    s = state
    late = missed(s, now)
    return Issue(
        id=s.issue_id, status=s.status, version=s.version, partition=partition,
        raised_at=s.raised_at, grid=s.grid, village=s.village, street=s.street,
        category=s.category, severity=s.severity, rule=s.rule, rules_version=s.rules_version,
        level=s.level, units=list(s.units), lead=s.lead, held_since=s.entered_at,
        entry_reason=s.entry_reason, response=s.response, respond_by=s.respond_by,
        resolve_by=s.resolve_by,
        limits=[Limit(kind=d.kind, unit=d.unit, due=d.due, warning=d.warning,
                      limit_due=d.limit_due) for d in sorted(s.deadlines, key=lambda d: d.due)],
        overdue=bool(late), missed=late,
        path=[Step(level=p.level, units=list(p.units), entered_at=p.entered_at,
                   left_at=p.left_at, reason=p.reason, response=p.response) for p in s.path],
        reports=[Report(department=r.department, due=r.due, reported_at=r.reported_at,
                        outcome=r.outcome) for r in s.reports],
        claims=claims_of(s), whistles=s.whistles, reopens=s.reopens, breaches=s.breaches,
        resolved_at=s.resolved_at, closed_at=s.closed_at,
    )


# --- one worker's answer, and the answers put together ---------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one worker found in its partitions: the first ``limit`` matches after the cursor
    (in id order), whether it has more, and how many match in all."""

    items: list[Issue]
    more: bool
    total: int
    partitions: list[int]

    def to_json(self) -> dict[str, Any]:
        return {"items": [i.model_dump(mode="json") for i in self.items], "more": self.more,
                "total": self.total, "partitions": self.partitions}

    @staticmethod
    def from_json(doc: dict[str, Any]) -> Answer:
        return Answer(items=[Issue.model_validate(i) for i in doc["items"]],
                      more=bool(doc["more"]), total=int(doc["total"]),
                      partitions=[int(p) for p in doc["partitions"]])


def answer(states: Iterable[tuple[int, IssueState]], query: Query, now: datetime,
           partitions: Iterable[int]) -> Answer:
    """One worker's answer from its states (partition, state)."""
    found: list[tuple[int, IssueState]] = []
    total = 0
    for partition, state in states:
        if not query.matches(state, bool(missed(state, now))):
            continue
        total += 1
        if query.after is None or state.issue_id > query.after:
            found.append((partition, state))
    found.sort(key=lambda ps: ps[1].issue_id)
    page = [view(p, s, now) for p, s in found[:query.limit]]
    return Answer(items=page, more=len(found) > query.limit, total=total,
                  partitions=sorted(partitions))


def merge(answers: Iterable[Answer], limit: int) -> tuple[list[Issue], str | None, int]:
    """The page from every worker's answer: the first ``limit`` in id order, the next cursor
    (None on the last page) and the total. Each worker gave its first ``limit`` after the
    cursor, so every issue up to the page's last id is among them."""
    answers = list(answers)
    items = sorted((i for a in answers for i in a.items), key=lambda i: i.id)
    page = items[:limit]
    more = len(items) > limit or any(a.more for a in answers)
    cursor = encode_cursor(page[-1].id) if more and page else None
    return page, cursor, sum(a.total for a in answers)
