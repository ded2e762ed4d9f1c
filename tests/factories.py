"""Small, explicit rule sets and events for the core's tests (no YAML, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from engine.domain.calendar import Limit, WorkingCalendar
from engine.domain.events import INBOUND_TYPES, Envelope
from engine.domain.ruleset import (
    Closing,
    Condition,
    Department,
    Grid,
    OrgRegistry,
    Route,
    Rule,
    Ruleset,
    Step,
    Street,
    Village,
)

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=CST)  # a Monday


def minutes(n: int) -> Limit:
    return Limit(amount=n, unit="minutes", text=f"{n}m")


def registry() -> OrgRegistry:
    return OrgRegistry(
        streets={"dongting": Street(id="dongting", name="东亭街道")},
        villages={"jinan": Village(id="jinan", name="锦安社区", street="dongting")},
        grids={
            "jinan-g1": Grid(id="jinan-g1", name="锦安社区第一网格", village="jinan"),
            "jinan-g2": Grid(id="jinan-g2", name="锦安社区第二网格", village="jinan"),
        },
        departments={
            d: Department(id=d, name=d)
            for d in ("traffic_police", "urban_management", "housing")
        },
    )


def ruleset(max_reopens: int = 1, warn_at: float | None = 0.8) -> Ruleset:
    """Grid (respond 30m, resolve 2h) -> village (60m, 4h) -> street (60m, 8h) -> departments.

    Emergencies skip to the street (15m, 60m) and then the departments. Wall time throughout.
    """
    window = Limit(amount=3, unit="days", text="3d")
    closing = Closing(rating_window=window, max_reopens=max_reopens)
    full = (
        Step(level="grid", respond=minutes(30), resolve=minutes(120)),
        Step(level="village", respond=minutes(60), resolve=minutes(240)),
        Step(level="street", respond=minutes(60), resolve=minutes(480)),
        Step(level="department"),
    )
    return Ruleset(
        version="test0001",
        registry=registry(),
        calendars={"24x7": WorkingCalendar(name="24x7", always=True)},
        rules=(
            Rule(
                id="emergency",
                match=(Condition(field="severity", values=("emergency",)),),
                calendar="24x7",
                ladder=(
                    Step(level="street", respond=minutes(15), resolve=minutes(60)),
                    Step(level="department"),
                ),
                warn_at=warn_at,
                closing=closing,
            ),
            Rule(id="default", calendar="24x7", ladder=full, warn_at=warn_at, closing=closing),
        ),
        routes={
            "illegal_parking": Route(
                category="illegal_parking", lead="traffic_police", co=("urban_management",),
                report=minutes(60), resolve=minutes(24 * 60),
            ),
            "default": Route(
                category="default", lead="urban_management", report=minutes(120),
                resolve=minutes(48 * 60),
            ),
        },
    )


_counter = [0]


def event(kind: str, issue: str, at: datetime, **data: Any) -> Envelope:
    """An inbound event of type ``issue.<kind>`` with a fresh id."""
    _counter[0] += 1
    cls = INBOUND_TYPES[f"issue.{kind}"]
    return cls.model_validate(
        {
            "id": f"e{_counter[0]}",
            "source": "test/grid-app",
            "subject": issue,
            "time": at.isoformat(),
            "type": f"issue.{kind}",
            "data": data,
        },
        strict=False,
    )


def raised(issue: str, at: datetime, grid: str = "jinan-g1", category: str = "illegal_parking",
           **extra: Any) -> Envelope:
    return event("raised", issue, at, grid=grid, category=category, title="乱停车堵住消防通道",
                 **extra)
