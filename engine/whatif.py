"""``whistle replay``: what a rules change would have done to recorded history.

The history runs through the core with a virtual clock (deadlines fire at their due times),
under the candidate rules and, if given, the baseline rules; nothing is written to any topic.
The comparison shows the figures that matter to the district — report rate by department,
escalations by level and reason, missed limits, local resolution — and every issue whose
outcome changes, with the first point where its two lifecycles part.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.domain.decision import Decision
from engine.domain.events import Envelope, IssueClosed, Outbound
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset
from engine.domain.state import IssueState
from engine.report.figures import Assessment, Rate, assess

HORIZON = timedelta(days=30)  # the clock runs on past the last event so pending limits fire
# The figures count every closure of the replay (a fixed period, so that the figures of a
# partition of the issues add up: see engine.parallel).
ALL_TIME = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))


@dataclass
class Outcome:
    """What a replay under one rules version did: only what the report needs, issue by issue a
    few short strings (a replay of millions of events keeps no emitted event), unless
    ``run(..., lifecycle=True)`` also kept every emitted event."""

    rules: Ruleset
    events: int = 0
    decisions: int = 0
    seconds: float = 0.0
    final: dict[str, str] = field(default_factory=dict)  # issue -> where it ended
    # issue -> its lifecycle, one short line per emitted event (what changed_issues compares)
    signatures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    escalations: Counter[str] = field(default_factory=Counter)
    breaches: Counter[str] = field(default_factory=Counter)
    figures: Assessment | None = None  # over every closure (an issue closed twice: the last)
    lifecycle: dict[str, list[Outbound]] = field(default_factory=dict)  # only if asked for


class Tally:
    """Folds the decisions of one replay, as they come, into an ``Outcome``'s figures."""

    def __init__(self, lifecycle: bool = False) -> None:
        self.decisions = 0
        self.signatures: dict[str, list[str]] = {}
        self.closures: dict[str, IssueClosed] = {}
        self.escalations: Counter[str] = Counter()
        self.breaches: Counter[str] = Counter()
        self.lifecycle: dict[str, list[Outbound]] | None = {} if lifecycle else None

    def add(self, decision: Decision) -> None:
        self.decisions += 1
        for e in decision.emit:
            issue = e.subject
            sig = sys.intern(_signature(e))  # a few hundred distinct lines: shared, not copied
            kept = self.signatures.get(issue)
            if kept is None:
                self.signatures[issue] = [sig]
            else:
                kept.append(sig)
            if self.lifecycle is not None:
                self.lifecycle.setdefault(issue, []).append(e)
            d: Any = e.data
            if e.type == "issue.escalated":
                self.escalations[f"{d.from_level}->{d.to_level} ({d.reason})"] += 1
            elif e.type == "issue.overdue":
                self.breaches[f"{d.kind} at {d.level}"] += 1
            elif isinstance(e, IssueClosed):
                self.closures[issue] = e

    def outcome(self, rules: Ruleset, states: Mapping[str, IssueState], events: int,
                seconds: float = 0.0) -> Outcome:
        out = Outcome(rules=rules, events=events, decisions=self.decisions, seconds=seconds,
                      escalations=self.escalations, breaches=self.breaches,
                      lifecycle=self.lifecycle or {})
        out.signatures = {issue: tuple(sigs) for issue, sigs in self.signatures.items()}
        for issue, state in states.items():
            out.final[issue] = sys.intern(
                _where(state.status, state.level, self.closures.get(issue)))
        if self.closures:
            out.figures = assess(self.closures.values(), *ALL_TIME,
                                 departments=rules.registry.departments,
                                 streets=rules.registry.streets)
        return out


def run(rules: Ruleset, events: Sequence[Envelope], until: datetime | None = None,
        lifecycle: bool = False) -> Outcome:
    """Replay ``events`` (in time order) in this process; ``lifecycle`` keeps every emitted
    event in ``Outcome.lifecycle`` (tests, small histories). For many events on several cores,
    see ``engine.parallel``."""
    tally = Tally(lifecycle)
    replayer = Replayer(rules)
    last = max((e.time for e in events), default=None)
    t0 = time.perf_counter()
    for decision in replayer.run(events, until=until or (last + HORIZON if last else None)):
        tally.add(decision)
    seconds = time.perf_counter() - t0
    return tally.outcome(rules, replayer.states, len(events), seconds)


def _where(status: str, level: str, closed: IssueClosed | None) -> str:
    if closed is None:
        return f"{status} at {level}"
    d = closed.data
    sat = {True: "satisfied", False: "unsatisfied", None: "unrated"}[d.satisfied]
    breaches = f", {d.breaches} missed limit{'s' if d.breaches != 1 else ''}" if d.breaches else ""
    return f"{d.outcome} at {d.closed_level} ({sat}{breaches})"


def _signature(e: Outbound) -> str:
    d: Any = e.data
    kind = e.type.removeprefix("issue.")
    if kind == "escalated":
        return f"escalated {d.from_level}->{d.to_level} ({d.reason})"
    if kind in ("warning", "overdue"):
        return f"{kind} {d.kind} at {d.level}"
    if kind == "assigned":
        return f"assigned to {d.level}"
    if kind == "closed":
        return f"closed {d.outcome} at {d.closed_level}"
    return kind


def changed_issues(base: Outcome, cand: Outcome) -> list[tuple[str, str, str, str]]:
    """(issue, baseline end, candidate end, first difference) for issues whose end differs."""
    out = []
    for issue in sorted(set(base.final) | set(cand.final)):
        b, c = base.final.get(issue, "absent"), cand.final.get(issue, "absent")
        if b == c:
            continue
        bs, cs = base.signatures.get(issue, ()), cand.signatures.get(issue, ())
        i = next((k for k, (x, y) in enumerate(zip(bs, cs, strict=False)) if x != y),
                 min(len(bs), len(cs)))
        why = (f"step {i + 1}: baseline {bs[i] if i < len(bs) else 'nothing more'}; "
               f"candidate {cs[i] if i < len(cs) else 'nothing more'}")
        out.append((issue, b, c, why))
    return out


def _rate(r: Rate | None) -> str:
    return "—" if r is None else str(r)


def report(cand: Outcome, base: Outcome | None = None, limit: int = 50) -> list[str]:
    sides = [("baseline", base), ("candidate", cand)] if base else [("rules", cand)]
    lines = [f"replay: {cand.events:,} events, {len(cand.final):,} issues; virtual clock"]
    for name, o in sides:
        assert o is not None
        speed = o.events / o.seconds if o.seconds else 0.0
        lines.append(f"  {name}: rules version {o.rules.version}; {o.decisions:,} decisions in "
                     f"{o.seconds:.2f} s ({speed:,.0f} events/s)")
    width = 44

    def row(label: str, values: Iterable[str]) -> str:
        return f"  {label:<{width}}" + "".join(f"{v:>24}" for v in values)

    outcomes = [o for _, o in sides if o is not None]
    lines += ["", row("", [n for n, _ in sides])]
    lines.append(row("report rate, all departments",
                     [_rate(o.figures.department_total.report_rate if o.figures else None)
                      for o in outcomes]))
    depts = sorted({d.department for o in outcomes if o.figures for d in o.figures.departments
                    if d.assigned})
    for dept in depts:
        vals = []
        for o in outcomes:
            fig = next((d for d in (o.figures.departments if o.figures else ())
                        if d.department == dept), None)
            vals.append(_rate(fig.report_rate if fig else None))
        lines.append(row(f"  {dept}", vals))
    lines.append(row("local resolution rate",
                     [_rate(o.figures.district.local_resolution_rate if o.figures else None)
                      for o in outcomes]))
    lines.append(row("resolved on time",
                     [_rate(o.figures.district.on_time_rate if o.figures else None)
                      for o in outcomes]))
    lines.append("")
    for title, attr in (("escalations", "escalations"), ("missed limits", "breaches")):
        keys = sorted(set().union(*(getattr(o, attr) for o in outcomes)))
        lines.append(row(f"{title} (total)", [str(sum(getattr(o, attr).values()))
                                               for o in outcomes]))
        for key in keys:
            lines.append(row(f"  {key}", [str(getattr(o, attr)[key]) for o in outcomes]))
    if base is not None:
        changes = changed_issues(base, cand)
        lines += ["", f"issues whose outcome changes: {len(changes)}"]
        for issue, b, c, why in changes[:limit]:
            lines.append(f"  {issue}: {b} -> {c}")
            lines.append(f"      {why}")
        if len(changes) > limit:
            lines.append(f"  ... and {len(changes) - limit} more")
    return lines
