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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.domain.events import INBOUND_TYPES, Envelope, IssueAssigned, Outbound
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset

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


@dataclass
class World:
    rules: Ruleset
    seed: int = 7
    source: str = "grid-app/xishan"
    rng: random.Random = field(init=False)
    serial: int = 0

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
        severity = "emergency" if rng.random() < 0.01 else "urgent" if rng.random() < 0.07 else (
            "normal")
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
        if not isinstance(out, IssueAssigned):
            return []
        d = out.data
        rng, issue, at = self.rng, out.subject, out.time
        events: list[Envelope] = []

        def later(unit: str, until: datetime) -> datetime:
            span = (until - at).total_seconds()
            return at + timedelta(seconds=span * speed(unit) * rng.uniform(0.6, 1.2))

        if d.level == "department":
            for dept in d.units:
                if dept in d.report_by and rng.random() < 0.93:  # a few departments never report
                    events.append(self._event("reported", issue, later(dept, d.report_by[dept]),
                                              department=dept))
            lead = d.lead or d.units[0]
            done = later(lead, d.resolve_by)
            events.append(self._event("progressed", issue, at + (done - at) / 2, unit=lead,
                                      note="处理中"))
        else:
            holder = d.units[0]
            if d.respond_by is not None:
                events.append(self._event("acknowledged", issue, later(holder, d.respond_by),
                                          unit=holder))
            p_whistle = {"grid": 0.12, "village": 0.2, "street": 0.35}[d.level]
            if d.reason != "reopened" and rng.random() < p_whistle:
                when = later(holder, d.respond_by or d.resolve_by) + timedelta(minutes=5)
                events.append(self._event("whistled", issue, when, unit=holder,
                                          reason="需要上级协调"))
                return events
            done = later(holder, d.resolve_by)
        unit = d.lead or d.units[0]
        events.append(self._event("resolved", issue, done, unit=unit, note="已处理"))
        if rng.random() < 0.9:  # some residents never rate
            rated = done + timedelta(hours=rng.uniform(1, 48))
            satisfied = rng.random() < 0.85
            events.append(self._event("rated", issue, rated, satisfied=satisfied,
                                      score=5 if satisfied else 2))
        if rng.random() < 0.01:
            events.append(self._event("withdrawn", issue, at + timedelta(minutes=30),
                                      reason="已自行解决"))
        return events


def history(rules: Ruleset, start: datetime, issues: int, span: timedelta, seed: int = 7,
            prefix: str = "XS") -> Iterator[Envelope]:
    """A realistic inbound event history: ``issues`` arrivals spread over ``span``.

    The engine's own replayer drives the world's reactions, so the history is the one upstream
    systems would have published. Events come out in time order.
    """
    world = World(rules, seed=seed)
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
        yield event
        for decision in replayer.feed(event):
            for out in decision.emit:
                for reaction in world.react(out):
                    order += 1
                    heapq.heappush(queue, (max(reaction.time, at), order, reaction))
