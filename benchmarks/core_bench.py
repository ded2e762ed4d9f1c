"""Benchmark: the pure core, in process. Prints figures; never pass/fail.

- throughput: a generated month of Xishan traffic replayed through decide() with a virtual
  clock (inbound events plus the deadlines they arm), against a baseline measured in the same
  run: the same events through a trivial per-key fold (dict lookup + tuple store), the floor any
  Python per-event handler pays. Target: >= 100,000 events/s on one core.
- memory: bytes per open issue (tracemalloc), for freshly raised issues and for issues at the
  department level with reports pending. Target: <= 2 KB.

Usage: python benchmarks/core_bench.py [--issues N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine.domain.events import Envelope
from engine.domain.replay import Replayer
from engine.rules.loader import load_ruleset
from engine.simulation import history

RULES = Path(__file__).resolve().parent.parent / "engine" / "sample" / "xishan"
START = datetime(2026, 11, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def baseline(events: list[Envelope]) -> float:
    table: dict[str, tuple[int, str]] = {}
    t0 = time.perf_counter()
    for e in events:
        prev = table.get(e.subject)
        table[e.subject] = ((prev[0] if prev else 0) + 1, e.id)
    return time.perf_counter() - t0


def core(events: list[Envelope], rules: object, end: datetime) -> tuple[float, int]:
    replayer = Replayer(rules)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    decisions = sum(1 for _ in replayer.run(events, until=end))
    return time.perf_counter() - t0, decisions


def memory_per_issue(rules: object, events: list[Envelope], n: int) -> float:
    raises = [e for e in events if e.type == "issue.raised"][:n]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    replayer = Replayer(rules)  # type: ignore[arg-type]
    for e in raises:
        for _ in replayer.feed(e):
            pass
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(raises)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rules = load_ruleset(RULES).ruleset
    assert rules is not None, "sample rules must load"
    span = timedelta(days=30)
    events = list(history(rules, START, args.issues, span))
    end = START + span + timedelta(days=60)
    print(f"history: {args.issues} issues, {len(events)} inbound events over {span.days} days")

    base = [baseline(events) for _ in range(args.repeat)]
    runs = [core(events, rules, end) for _ in range(args.repeat)]
    decisions = runs[0][1]
    t_base = statistics.median(base)
    t_core = statistics.median(t for t, _ in runs)
    print(f"baseline fold:  {len(events) / t_base:>12,.0f} events/s")
    print(f"core replay:    {len(events) / t_core:>12,.0f} inbound events/s "
          f"({decisions / t_core:,.0f} decisions/s incl. {decisions - len(events)} deadline "
          f"firings; {t_core / decisions * 1e6:.1f} us/decision)")
    print(f"ratio core/baseline: {t_base / t_core:.4f}  (target >= 100,000 events/s)")

    per_raised = memory_per_issue(rules, events, 10_000)
    print(f"memory per open issue (raised, grid level): {per_raised:,.0f} bytes (target <= 2048)")


if __name__ == "__main__":
    main()
