"""Simulated Xishan traffic: residents raise issues, units answer the engine's assignments.

The world reacts to what the engine emits (an ``issue.assigned`` makes its holders acknowledge,
whistle, report or resolve after a delay), so the history it produces is realistic: some units
are slow and miss limits, some issues are whistled up, some residents are not satisfied. It is
deterministic for a seed. Used by the demo, the benchmarks and replay tests.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.domain.events import (
    INBOUND_TYPES,
    Envelope,
    IssueAcknowledged,
    IssueAssigned,
    IssueClosed,
    IssueExtensionPending,
    IssueRated,
    IssueReported,
    IssueResolved,
    IssueReturnPending,
    IssueWhistled,
    IssueWithdrawn,
    Outbound,
)
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset, Step

# category -> weight of arrivals (the seed's headline problems are the most frequent)
CATEGORY_WEIGHTS = {
    "illegal_parking": 20, "garbage_sorting": 15, "noise": 10, "property_management": 10,
    "road_damage": 8, "water_leak": 6, "street_vending": 6, "drainage": 5, "greening": 4,
    "old_compound_renovation": 3, "parking_conversion": 3, "elevator_installation": 2,
    "safety_hazard": 2, "other": 3,
}
REPORTERS = [("resident", 50), ("grid_worker", 20), ("party_member", 10), ("volunteer", 5),
             ("rider", 10), ("hotline", 5)]
SOURCES = {"hotline": "hotline/12345", "rider": "riders-mini-program/xishan"}
TITLES = {
    "illegal_parking": "小区门口车辆乱停放", "garbage_sorting": "垃圾分类投放点满溢",
    "noise": "夜间施工噪声扰民", "property_management": "物业不作为", "road_damage": "道路坑洼",
    "water_leak": "供水管道漏水", "street_vending": "占道经营", "drainage": "雨后积水排水不畅",
    "greening": "绿化带缺株", "old_compound_renovation": "老旧小区屋面渗漏",
    "parking_conversion": "申请增设停车位", "elevator_installation": "老楼加装电梯协调",
    "safety_hazard": "楼道堆放杂物存在消防隐患", "other": "其他问题",
}


def speed(unit: str) -> float:
    """A unit's habitual pace as a fraction of its limit; about one unit in five is slow."""
    bucket = zlib.crc32(unit.encode()) % 10
    return 1.4 if bucket < 2 else 0.25 + bucket * 0.05


@dataclass(frozen=True)
class Pace:
    """How the simulated units and residents behave. The defaults are the history the
    benchmarks, the golden replays and the tests are built on; the demo has its own
    (``DEMO_PACE``)."""

    emergency: float = 0.01  # shares of the arrivals: emergencies start at the street
    urgent: float = 0.07
    whistle: tuple[float, float, float] = (0.12, 0.2, 0.35)  # grid, village, street
    # a whistling unit whistles within these fractions of its respond limit; None: at its pace
    whistle_within: tuple[float, float] | None = None
    report: float = 0.93  # a department reports at all
    late_report: float = 0.0  # ... and, whatever its pace, after its limit
    # hours the departments' lead takes, from its report, to resolve; None: at its pace within
    # the limit, like every other unit
    department_resolve: tuple[float, float] | None = None
    rating: float = 0.9  # a resident rates at all
    rating_after: tuple[float, float] = (1.0, 48.0)  # hours after the resolution
    satisfied: float = 0.85
    withdraw: float = 0.01
    # a unit acts only while it holds the issue: nothing after the limit that takes the issue
    # from it (nor within ``margin`` before it), after its whistle, or after a withdrawal
    holders_only: bool = False
    margin: timedelta = timedelta(0)
    # returns (退单) and extensions (延期), none by default (the recorded histories have none):
    # a department lead returns an assignment soon after it, or asks for a few more working
    # days halfway through its limit; the adjudicator accepts, the approver approves, these
    # shares of them (the rest are rejected)
    returns: float = 0.0
    extensions: float = 0.0
    accepted: float = 0.7


# The demo's first minute (600x: ten hours of Xishan time) shows the whole loop: a fifth of the
# issues are emergencies, which start at the street; units whistle early and often; of the
# departments, 30% never report and 40% of the others report late; the lead resolves within
# hours of its report; residents rate within an hour or so and are less often satisfied. Units
# act only while they hold the issue; ``margin`` covers the wall-clock latency of the sped-up
# clock (a fact published just before a limit could reach the engine after it).
DEMO_PACE = Pace(emergency=0.2, whistle=(0.3, 0.4, 0.6), whistle_within=(0.1, 0.5), report=0.7,
                 late_report=0.4, department_resolve=(0.3, 2.0), rating_after=(0.1, 1.5),
                 satisfied=0.7, holders_only=True, margin=timedelta(minutes=10))


@dataclass
class World:
    rules: Ruleset
    seed: int = 7
    source: str = "grid-app/xishan"
    pace: Pace = field(default_factory=Pace)
    rng: random.Random = field(init=False)
    serial: int = 0
    # holders_only: each issue's latest assignment or closure, and what each fact answers
    _answers: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _made_for: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _event(self, kind: str, issue: str, at: datetime, source: str | None = None,
               **data: Any) -> Envelope:
        self.serial += 1
        cls = INBOUND_TYPES[f"issue.{kind}"]
        return cls.model_validate(
            {"id": f"sim-{self.seed}-{self.serial:08d}", "source": source or self.source,
             "subject": issue, "time": at.isoformat(), "type": f"issue.{kind}", "data": data},
            strict=False,
        )

    def arrival(self, issue: str, at: datetime) -> Envelope:
        rng = self.rng
        category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        kind = rng.choices([k for k, _ in REPORTERS], weights=[w for _, w in REPORTERS])[0]
        grid = rng.choice(self._grids)
        pace = self.pace
        severity = "emergency" if rng.random() < pace.emergency else (
            "urgent" if rng.random() < pace.urgent else "normal")
        return self._event(
            "raised", issue, at, source=SOURCES.get(kind), grid=grid, category=category,
            severity=severity, title=TITLES[category], reporter={"kind": kind},
        )

    @property
    def _grids(self) -> list[str]:
        grids: list[str] = getattr(self, "_grid_list", None) or sorted(self.rules.registry.grids)
        self._grid_list = grids
        return grids

    def react(self, out: Outbound) -> list[Envelope]:
        """The world's answers to one engine event (with future times)."""
        if self.pace.holders_only and isinstance(out, IssueAssigned | IssueClosed):
            self._answers[out.subject] = out.id  # what came before is no longer answered
        if isinstance(out, IssueReturnPending | IssueExtensionPending):
            return [self._decide(out)]
        if not isinstance(out, IssueAssigned):
            return []
        d = out.data
        pace = self.pace
        rng, issue, at = self.rng, out.subject, out.time
        events: list[Envelope] = []

        def later(unit: str, until: datetime) -> datetime:
            span = (until - at).total_seconds()
            return at + timedelta(seconds=span * speed(unit) * rng.uniform(0.6, 1.2))

        if d.level == "department":
            for dept in d.units:
                if dept in d.report_by and rng.random() < pace.report:  # some never report
                    due = d.report_by[dept]
                    when = (due + (due - at) * rng.uniform(0.05, 0.3)
                            if pace.late_report and rng.random() < pace.late_report
                            else later(dept, due))
                    events.append(self._event("reported", issue, when, department=dept))
            lead = d.lead or d.units[0]
            if pace.department_resolve is None:
                done = later(lead, d.resolve_by)
            else:  # the lead starts work once it has reported
                began = next((e.time for e in events
                              if isinstance(e, IssueReported) and e.data.department == lead), at)
                done = began + timedelta(hours=rng.uniform(*pace.department_resolve))
            events.append(self._event("progressed", issue, at + (done - at) / 2, unit=lead,
                                      note="处理中"))
            events += self._workflow(out, lead)
        else:
            holder = d.units[0]
            if d.respond_by is not None:
                events.append(self._event("acknowledged", issue, later(holder, d.respond_by),
                                          unit=holder))
            p_whistle = pace.whistle[("grid", "village", "street").index(d.level)]
            if d.reason != "reopened" and rng.random() < p_whistle:
                events.append(self._whistle(out, holder, later))
                return self._holding(out, events)
            done = later(holder, d.resolve_by)
        unit = d.lead or d.units[0]
        events.append(self._event("resolved", issue, done, unit=unit, note="已处理"))
        if rng.random() < pace.rating:  # some residents never rate
            rated = done + timedelta(hours=rng.uniform(*pace.rating_after))
            satisfied = rng.random() < pace.satisfied
            events.append(self._event("rated", issue, rated, satisfied=satisfied,
                                      score=5 if satisfied else 2))
        if rng.random() < pace.withdraw:
            events.append(self._event("withdrawn", issue, at + timedelta(minutes=30),
                                      reason="已自行解决"))
        return self._holding(out, events)

    def _workflow(self, out: IssueAssigned, lead: str) -> list[Envelope]:
        """A department lead's return or extension request (only with those shares set, so
        the default history draws no more random numbers than before)."""
        pace, rng, d, events = self.pace, self.rng, out.data, []
        if pace.returns and d.reason != "return_accepted" and rng.random() < pace.returns:
            others = sorted(set(self.rules.registry.departments) - set(d.units))
            events.append(self._event(
                "return_requested", out.subject, out.time + timedelta(minutes=rng.uniform(10, 90)),
                unit=lead, reason_code=rng.choice(["not_ours", "overlapping_duties"]),
                note="不属于本部门职责", suggested=rng.choice(others)))
        if pace.extensions and rng.random() < pace.extensions:
            events.append(self._event(
                "extension_requested", out.subject, out.time + (d.resolve_by - out.time) / 2,
                unit=lead, working_days=rng.randint(1, 5), basis="部门工作方案",
                reason="需协调施工时间"))
        return events

    def _decide(self, out: IssueReturnPending | IssueExtensionPending) -> Envelope:
        """The adjudicator's or approver's decision, an hour or a few later."""
        rng = self.rng
        when = out.time + timedelta(hours=rng.uniform(1, 4))
        yes = rng.random() < self.pace.accepted
        if isinstance(out, IssueReturnPending):
            return self._event("return_decided", out.subject, when,
                               decision="accepted" if yes else "rejected",
                               by=out.data.adjudicator)
        return self._event("extension_decided", out.subject, when,
                           decision="approved" if yes else "rejected",
                           approver=out.data.approvers[0])

    def current(self, fact: Envelope) -> bool:
        """Whether a fact the world made still answers its issue's latest assignment (always,
        without ``holders_only``): units do not act on an issue given to others, or closed."""
        answers = self._made_for.pop(fact.id, None)
        return answers is None or answers == self._answers.get(fact.subject)

    def _whistle(self, out: IssueAssigned, holder: str,
                 later: Callable[[str, datetime], datetime]) -> Envelope:
        d, within = out.data, self.pace.whistle_within
        if within is None:
            when = later(holder, d.respond_by or d.resolve_by) + timedelta(minutes=5)
        else:
            when = out.time + ((d.respond_by or d.resolve_by) - out.time) * self.rng.uniform(
                *within)
        return self._event("whistled", out.subject, when, unit=holder, reason="需要上级协调")

    def _holding(self, out: IssueAssigned, events: list[Envelope]) -> list[Envelope]:
        """With ``holders_only``: the facts of one assignment that come while its units still
        hold the issue, none after its resolution but the rating (which needs it)."""
        if not self.pace.holders_only:
            return events
        d, margin = out.data, self.pace.margin
        step = self._step(d.rule, d.level)
        acknowledged = next((e.time for e in events if isinstance(e, IssueAcknowledged)), None)
        ends = [e.time for e in events if isinstance(e, IssueWhistled | IssueWithdrawn)]
        if step is not None and step.escalate_on_resolve_overdue and d.level != "department":
            ends.append(d.resolve_by - margin)
        if (step is not None and step.escalate_on_respond_overdue and d.respond_by is not None
                and (acknowledged is None or acknowledged > d.respond_by - margin)):
            ends.append(d.respond_by - margin)
        end = min(ends, default=None)
        kept: list[Envelope] = []
        for e in sorted(events, key=lambda e: e.time):
            if end is not None and e.time > end:
                break
            resolved = any(isinstance(k, IssueResolved) for k in kept)
            if isinstance(e, IssueRated) != resolved and not isinstance(e, IssueWithdrawn):
                continue
            kept.append(e)
            if isinstance(e, IssueWhistled | IssueWithdrawn) or (
                    isinstance(e, IssueRated) and e.data.satisfied):
                break  # the issue has left its units, or is closed
        for e in kept:
            self._made_for[e.id] = out.id
        return kept

    def _step(self, rule_id: str, level: str) -> Step | None:
        rule = self.rules.rule(rule_id)
        if rule is None:
            return None
        return next((s for s in rule.ladder if s.level == level), None)


def history(rules: Ruleset, start: datetime, issues: int, span: timedelta, seed: int = 7,
            prefix: str = "XS", pace: Pace | None = None) -> Iterator[Envelope]:
    """A realistic inbound event history: ``issues`` arrivals spread over ``span``.

    The engine's own replayer drives the world's reactions, so the history is the one upstream
    systems would have published. Events come out in time order.
    """
    world = World(rules, seed=seed, pace=pace or Pace())
    replayer = Replayer(rules)
    rng = random.Random(seed + 1)
    queue: list[tuple[datetime, int, Envelope]] = []
    order = 0
    for n in range(issues):
        at = start + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        order += 1
        heapq.heappush(queue, (at, order, world.arrival(f"{prefix}-{n:07d}", at)))
    while queue:
        at, _, event = heapq.heappop(queue)
        if not world.current(event):
            continue
        yield event
        for decision in replayer.feed(event):
            for out in decision.emit:
                for reaction in world.react(out):
                    order += 1
                    heapq.heappush(queue, (max(reaction.time, at), order, reaction))
