"""Benchmark: the shell's processor in process, without a broker. Prints figures; never pass/fail.

What a worker's agent does with a batch (``engine.agents.processor.IssueProcessor``: parse,
decide, stage, metrics, ``finish``: states encoded once, outbox, records), on the runtime
benchmark's traffic: N simulated Xishan events from November 2026, in batches of 500, a tick
of every partition between batches at the wall clock's now (so, as in
``benchmarks/runtime_bench.py``, the limits those events armed are all due and fire). The
store is a dict (faust's memory store). No faust, no Kafka: what is measured is the engine's
own CPU per inbound event, the part of the worker's profile this code owns, steadier than a
run through the broker on a shared machine.

Baseline in the same run: the floor of any Python per-message handler (the value decoded with
``json.loads``, a dict write, the value encoded again with ``json.dumps``). Printed: us per
inbound event for both (median of --repeat runs, each on a fresh processor), their ratio,
decisions and records per inbound event. ``--profile`` prints the top functions (cProfile).

Usage: python benchmarks/shell_bench.py [--events N] [--repeat R] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine import native
from engine.agents import logs
from engine.agents.clock import SystemClock
from engine.agents.index import DeadlineIndex
from engine.agents.metrics import Metrics
from engine.agents.processor import IssueProcessor, Message
from engine.agents.store import IssueStore
from engine.agents.topics import Topics
from engine.rules.loader import load_ruleset
from engine.simulation import history

RULES = Path(__file__).resolve().parent.parent / "engine" / "sample" / "xishan"
PARTITIONS = 4
BATCH = 500


def traffic(n: int, live: timedelta | None = None) -> list[Message]:
    rules = load_ruleset(RULES).ruleset
    assert rules is not None
    start, span = datetime(2026, 11, 2, 8, 0, tzinfo=UTC), timedelta(days=30)
    if live is not None:
        start, span = datetime.now(UTC) - live, live
    out: list[Message] = []
    offsets = [0] * PARTITIONS
    for e in history(rules, start, n, span):
        key = e.subject.encode()
        p = hash(key) % PARTITIONS
        out.append(Message("issues.events", p, offsets[p], key, e.model_dump_json().encode()))
        offsets[p] += 1
        if len(out) >= n:
            break
    return out


def run_engine(messages: list[Message]) -> tuple[float, int]:
    rules = load_ruleset(RULES).ruleset
    assert rules is not None
    clock = SystemClock()
    metrics = Metrics()
    metrics.init_series(rules.registry, rules.categories)
    proc = IssueProcessor(rules=lambda: rules, store=IssueStore({}), metrics=metrics,
                          clock=clock, index=DeadlineIndex(), topics=Topics())
    proc.on_assigned(set(range(PARTITIONS)))
    records = 0
    t0 = time.process_time()
    for tick, i in enumerate(range(0, len(messages), BATCH)):
        now = clock.now()
        for m in messages[i:i + BATCH]:
            proc.on_event(m, now)
        for p in range(PARTITIONS):
            proc.on_tick(p, tick, clock.now())
        records += len(proc.finish())
    return time.process_time() - t0, records


def run_floor(messages: list[Message]) -> float:
    table: dict[bytes, bytes] = {}
    t0 = time.process_time()
    for m in messages:
        assert m.key is not None and m.value is not None
        doc = json.loads(m.value)
        table[m.key] = json.dumps(doc, ensure_ascii=False).encode()
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--live", type=float, metavar="HOURS", help=(
        "traffic of the last HOURS up to now instead of November's (fewer limits due)"))
    args = ap.parse_args()
    logs.configure("warning")  # as runtime_bench runs the worker
    messages = traffic(args.events, None if args.live is None else timedelta(hours=args.live))
    n = len(messages)
    print(f"shell benchmark: {n} events, {PARTITIONS} partitions, batches of {BATCH}, "
          f"memory store, {args.repeat} runs; core: {native.describe()}")
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # as the worker serves (engine.agents.worker.tune_gc)
    engine: list[float] = []
    floor: list[float] = []
    records = 0
    for _ in range(args.repeat):
        floor.append(run_floor(messages))
        seconds, records = run_engine(messages)
        engine.append(seconds)
    e, f = statistics.median(engine) / n * 1e6, statistics.median(floor) / n * 1e6
    print(f"  floor (json.loads, dict write, json.dumps): {f:.1f} us per event")
    print(f"  processor (parse, decide, stage, metrics, finish): {e:.1f} us per event "
          f"({1e6 / e:,.0f} events/s on one core)")
    print(f"  processor/floor: {e / f:.1f}x; {records / n:.2f} records per inbound event")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run_engine, messages)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
