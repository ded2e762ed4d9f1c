"""Clocks for the shell (the core never reads one): the system clock, or a sped-up one.

The demo runs the real Xishan rules on a virtual clock that runs ``speed`` times faster than
the wall clock from a chosen start, so limits of hours show as seconds while working hours,
weekends and holidays keep their meaning. Upstream events and ticks use the same clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The one notion of now in a worker: injected into everything that needs it."""

    speed: float

    def now(self) -> datetime: ...


class SystemClock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class VirtualClock:
    """``held``: it says ``start`` until ``begin()`` (the demo starts its day once the engine
    is ready, so that no limit passes while the worker is still starting)."""

    start: datetime
    speed: float
    _wall0: float = field(default_factory=time.monotonic)
    held: bool = False

    def now(self) -> datetime:
        if self.held:
            return self.start
        return self.start + timedelta(seconds=(time.monotonic() - self._wall0) * self.speed)

    def begin(self) -> None:
        self._wall0 = time.monotonic()
        self.held = False


@dataclass
class FixedClock:
    """A clock that says what it is told (tests)."""

    at: datetime
    speed: float = 1.0

    def now(self) -> datetime:
        return self.at
