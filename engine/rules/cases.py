"""``whistle rules test DIR CASES.yaml``: expected outcomes of rule files, checked in batch.

A case is an event or a timed sequence of events, run through the engine's own core with a
virtual clock (deadlines fire at their due times), and what it should come to: the rule, the
ladder, deadlines of the first assignment, and where the issue ends up. Only the expectations a
case states are checked, and each mismatch is reported as ``case: field: expected X, got Y``.

    cases:
      - name: illegal parking goes to the parking rule
        events:
          - {at: 2026-11-23T09:00:00+08:00, type: raised,
             data: {grid: anzhen-jinan-g1, category: illegal_parking, title: 乱停车}}
        until: 2026-11-23T10:00:00+08:00     # run the clock on (optional)
        expect:
          rule: parking-and-garbage
          ladder: [grid, village, street, department]
          respond_by: 2026-11-23T09:30:00+08:00
          resolve_by: 2026-11-23T14:30:00+08:00
          level: village                    # where it is at the end
          status: open                      # open | resolved | closed
          path: [grid]                      # levels left so far, in order
          outcome: resolved                 # only for closed issues
          lifecycle: [assigned, warning, overdue, escalated, assigned]
          claims: [held, expired]           # each claim's outcome, in claim order
          points: {rider:rd-1: 5}           # net points per person (kind:id), ledger events
          urgings: 3                        # urging steps sent (催办)
          supervised: true                  # it became a supervision case (督办)
          parked: false                     # parked (挂账) at the end
          parked_periods: 1                 # periods it was parked, ended
          returns: [accepted]               # each return's decision (pending: null)
          extensions: [approved]            # each extension's decision
          extensions_missed: [true]         # each extension: its extended limit passed too
          resolve_by_now: 2026-11-30T09:30:00+08:00   # the holder's limit at the end
          unfit: [not_adjudicator]          # reasons of the facts that did not fit, in order
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from engine.domain.events import (
    INBOUND_TYPES,
    Envelope,
    IssueAssigned,
    IssueClosed,
    PointsAwarded,
    PointsReversed,
)
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset

EXPECTATIONS = ("rule", "ladder", "respond_by", "resolve_by", "report_by", "level", "status",
                "path", "outcome", "satisfied", "lifecycle", "units", "claims", "points",
                "urgings", "supervised", "parked", "parked_periods", "returns", "extensions",
                "extensions_missed", "resolve_by_now", "unfit")


@dataclass(frozen=True)
class CaseResult:
    name: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _time(value: Any) -> datetime:
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if t.tzinfo is None:
        raise ValueError(f"time {value} has no offset")
    return t


def _events(case: dict[str, Any], n: int) -> list[Envelope]:
    subject = str(case.get("issue", f"CASE-{n:04d}"))
    out = []
    for i, item in enumerate(case.get("events") or [], 1):
        kind = str(item["type"]).removeprefix("issue.")
        cls = INBOUND_TYPES.get(f"issue.{kind}")
        if cls is None:
            raise ValueError(f"event {i}: unknown type {kind!r}")
        out.append(cls.model_validate(
            {"id": f"case-{n}-{i}", "source": str(item.get("source", "rules-test")),
             "subject": subject, "time": _time(item["at"]).isoformat(),
             "type": f"issue.{kind}", "data": item.get("data") or {}},
            strict=False,
        ))
    if not out:
        raise ValueError("a case needs at least one event")
    return out


def run_case(rules: Ruleset, case: dict[str, Any], n: int) -> CaseResult:
    name = str(case.get("name", f"case {n}"))
    try:
        events = _events(case, n)
        until = _time(case["until"]) if case.get("until") else None
        expect = case.get("expect") or {}
        unknown = set(expect) - set(EXPECTATIONS)
        if unknown:
            raise ValueError(f"unknown expectations {sorted(unknown)} (known: "
                             f"{', '.join(EXPECTATIONS)})")
    except (KeyError, ValueError, TypeError) as exc:
        return CaseResult(name, (f"bad case: {exc}",))
    replayer = Replayer(rules)
    decisions = list(replayer.run(events, until=until))
    emitted = [e for d in decisions for e in d.emit]
    state = replayer.states.get(events[0].subject)
    first = next((e for e in emitted if isinstance(e, IssueAssigned)), None)
    closed = next((e for e in emitted if isinstance(e, IssueClosed)), None)
    rule = rules.rule(state.rule) if state else None
    actual: dict[str, Any] = {
        "rule": state.rule if state else None,
        "ladder": [s.level for s in rule.ladder] if rule else None,
        "respond_by": first.data.respond_by if first else None,
        "resolve_by": first.data.resolve_by if first else None,
        "report_by": dict(first.data.report_by) if first else None,
        "level": state.level if state else None,
        "units": list(state.units) if state else None,
        "status": state.status if state else None,
        "path": [p.level for p in state.path] if state else None,
        "outcome": closed.data.outcome if closed else None,
        "satisfied": closed.data.satisfied if closed else None,
        "lifecycle": [e.type.removeprefix("issue.") for e in emitted
                      if not e.type.startswith("points.")],
        "claims": [("released" if c.released_at else "expired" if c.expired_at else "held")
                   for c in state.claims] if state else None,
        "points": _points(emitted),
        # supervision and parking: urging steps sent, a supervision case, parked now, and the
        # periods it was parked (closed ones)
        "urgings": state.urged if state else None,
        "supervised": state.supervised if state else None,
        "parked": state.parked is not None if state else None,
        "parked_periods": len(state.parked_spans) if state else None,
        "returns": [r.decision for r in state.returns] if state else None,
        "extensions": [x.decision for x in state.extensions] if state else None,
        "extensions_missed": [x.missed for x in state.extensions] if state else None,
        "resolve_by_now": state.resolve_by if state else None,
        "unfit": [d.reason for d in decisions if d.result == "unfit"],
    }
    problems = []
    for key, want in expect.items():
        got = actual[key]
        if not _same(want, got):
            if isinstance(got, datetime) and isinstance(want, datetime) and want.tzinfo:
                got = got.astimezone(want.tzinfo)  # shown in the case's own offset
            problems.append(f"{key}: expected {_show(want)}, got {_show(got)}")
    return CaseResult(name, tuple(problems))


def _points(emitted: list[Any]) -> dict[str, int]:
    net: dict[str, int] = {}
    for e in emitted:
        if isinstance(e, PointsAwarded | PointsReversed):
            key = f"{e.data.person.kind}:{e.data.person.id}"
            sign = 1 if isinstance(e, PointsAwarded) else -1
            net[key] = net.get(key, 0) + sign * e.data.points
    return net


def _same(want: Any, got: Any) -> bool:
    if isinstance(got, datetime) or (got is None and isinstance(want, datetime)):
        try:
            return got is not None and _time(want) == got
        except (ValueError, TypeError):
            return False
    if isinstance(got, dict) and isinstance(want, dict):
        return set(got) == set(want) and all(_same(want[k], got[k]) for k in want)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_same(w, g) for w, g in zip(want, got, strict=True))
    return bool(want == got)


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def run_cases(rules: Ruleset, path: Path) -> tuple[int, list[str]]:
    """Exit code and report lines: one line per case, and the mismatches under it."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return 1, [f"{path}: {exc}"]
    cases = (doc or {}).get("cases") if isinstance(doc, dict) else None
    if not isinstance(cases, list) or not cases:
        return 1, [f"{path}: expected a top-level `cases:` list"]
    lines, failed = [], 0
    for n, case in enumerate(cases, 1):
        result = run_case(rules, case if isinstance(case, dict) else {}, n)
        lines.append(f"{'ok  ' if result.ok else 'FAIL'} {result.name}")
        lines += [f"       {p}" for p in result.problems]
        failed += not result.ok
    lines.append(f"{len(cases) - failed} passed, {failed} failed")
    return (1 if failed else 0), lines
