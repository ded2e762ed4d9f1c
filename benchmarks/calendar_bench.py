"""Benchmark: working-time arithmetic, fast path against the reference loops. Prints figures;
never pass/fail.

A decision calls ``WorkingCalendar.add`` 2-6 times and ``point`` 2-4 times within a budget of
about 10 µs in all. For each operation this measures µs per call of the indexed fast path
(``add``/``point``) and of the day-by-day reference loops it replaced (``_slow_add``/
``_slow_point``), in the same run, on the same starts, and prints the speed-up. The starts are
spread over 2026 (weekdays, weekends, lunch breaks, evenings, the Spring Festival and National
Day holidays with their make-up days), in Shanghai time and in a fixed +08:00 offset as
inbound events carry it. ``--year 2027`` spreads them over a year past chinese-calendar's data
instead, where the calendar counts the holidays by law (engine/rules/calendar_law.py).

Usage: python benchmarks/calendar_bench.py [--repeat R] [--number N] [--year Y]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from engine.domain.calendar import Limit, WorkingCalendar
from engine.rules.calendars import china_calendar

SH = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))

LIMITS = [
    ("add wall 4h", Limit(amount=4, unit="hours")),
    ("add 4 working hours", Limit(amount=4, unit="hours", working=True)),
    ("add 2 working days", Limit(amount=2, unit="days", working=True)),
    ("add 30 working days", Limit(amount=30, unit="days", working=True)),
]


def starts(count: int, year_number: int = 2026) -> list[datetime]:
    rng = random.Random(2026)
    year = datetime(year_number, 1, 1, tzinfo=SH)
    out = []
    for _ in range(count):
        moment = year + timedelta(minutes=rng.randrange(365 * 24 * 60))
        out.append(moment if rng.random() < 0.5 else moment.astimezone(CST))
    return out


def per_call(fn: Callable[..., object], inputs: list[tuple[object, ...]], repeat: int) -> float:
    """Best-of-``repeat`` µs per call of ``fn(*args)`` over ``inputs``."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        for args in inputs:
            fn(*args)
        best = min(best, (time.perf_counter() - began) / len(inputs))
    return best * 1e6


def row(name: str, fast: float, slow: float) -> None:
    print(f"{name:<24} {fast:9.2f} {slow:9.2f} {slow / fast:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="best of R passes")
    parser.add_argument("--number", type=int, default=2000, help="distinct starts per pass")
    parser.add_argument("--year", type=int, default=2026, help="the year the starts fall in")
    args = parser.parse_args()
    began = time.perf_counter()
    cal: WorkingCalendar = china_calendar()
    print(f"calendar build (once per process): {(time.perf_counter() - began) * 1e3:.1f} ms")
    inputs = starts(args.number, args.year)

    began = time.perf_counter()
    cal.add(inputs[0], LIMITS[1][1])  # builds the index once
    print(f"index build (once per calendar): {(time.perf_counter() - began) * 1e3:.1f} ms")
    print(f"{'operation':<24} {'fast µs':>9} {'slow µs':>9} {'speed-up':>9}")
    for name, limit in LIMITS:
        calls = [(s, limit) for s in inputs]
        row(
            name, per_call(cal.add, calls, args.repeat), per_call(cal._slow_add, calls, args.repeat)
        )

    # point(): the 80% warning of a deadline 2 working days away, as the core asks for it.
    calls = [(s, cal.add(s, LIMITS[2][1]), 0.8) for s in inputs]
    fast = per_call(cal.point, calls, args.repeat)
    row("point 0.8 of 2 w. days", fast, per_call(cal._slow_point, calls, args.repeat))


if __name__ == "__main__":
    main()
