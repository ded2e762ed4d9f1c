"""Benchmark: the pure core, in process. Prints figures; never pass/fail.

- throughput: a generated month of Xishan traffic replayed through decide() with a virtual
  clock (inbound events plus the deadlines they arm), against a baseline measured in the same
  run: the same events through a trivial per-key fold (dict lookup + tuple store), the floor any
  Python per-event handler pays. Target: >= 100,000 events/s on one core.
- memory: bytes per open issue (tracemalloc), for freshly raised issues and for issues climbed
  by missed limits (most at the department level with reports pending). Target: <= 2 KB.
- replay on every core: the same history as JSONL lines through ``whistle replay``'s two paths,
  in the same run (interleaved, medians): one process (parse every line, sort, ``whatif.run``)
  and ``--workers`` processes (``engine.parallel``: route, parse and replay per partition,
  merge); wall times, inbound events/s and the speedup. The outcomes must be equal.
- ``--inbound N``: only the replay figures, for a large generated history of about N inbound
  events (about 5.4 per issue, over a month; generated in shards by as many processes as
  ``--workers``, concatenated unsorted, cached in the temp directory), with the peak resident
  memory of the parent and of the largest worker. ``--no-single`` skips the one-process path.
  Targets: 1,000,000 inbound events in < 60 s on 2 cores; 10,000,000 in < 10 min.

Usage: python benchmarks/core_bench.py [--issues N] [--repeat R] [--workers W]
       python benchmarks/core_bench.py --inbound 1000000 [--workers W] [--no-single]
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine import native
from engine.domain.decide import decide
from engine.domain.events import Envelope
from engine.domain.parse import Accepted, parse
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset
from engine.parallel import replay
from engine.rules.loader import load_ruleset
from engine.simulation import history
from engine.whatif import Outcome, run

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


def memory_per_issue(rules: object, events: list[Envelope], n: int,
                     *, climbed: bool) -> tuple[float, str]:
    """Bytes per open issue held by a replayer after ``n`` raises (tracemalloc), and where the
    issues stand. ``climbed=False``: each raise decided at its own time, nothing else (freshly
    raised, grid level). ``climbed=True``: the virtual clock runs through the month with no
    other fact, so missed limits climb most issues to the departments (path steps, reports
    pending, progress deadlines): the heaviest open issue the rules make."""
    raises = [e for e in events if e.type == "issue.raised"][:n]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    replayer = Replayer(rules)  # type: ignore[arg-type]
    for e in raises:
        if climbed:
            for _ in replayer.feed(e):
                pass
        else:
            replayer.states[e.subject] = decide(None, e, replayer.rules, e.time).state  # type: ignore[assignment]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    levels = Counter(s.level for s in replayer.states.values())
    where = ", ".join(f"{n:,} at {level}" for level, n in levels.most_common())
    return (after - before) / len(raises), where


INBOUND_PER_ISSUE = 5.4  # the simulated world's average


def one_process(path: Path, rules: Ruleset) -> tuple[float, float, Outcome]:
    """``whistle replay --workers 1``: read and parse every line, sort by time, run.
    (wall seconds, CPU seconds, outcome)"""
    t0, c0 = time.perf_counter(), time.process_time()
    events = []
    with path.open("rb") as f:
        for line in f:
            parsed = parse(line.strip(), None, rules.registry.grids)
            if isinstance(parsed, Accepted):
                events.append(parsed.event)
    events.sort(key=lambda e: e.time)
    outcome = run(rules, events)
    return time.perf_counter() - t0, time.process_time() - c0, outcome


def numbered(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from ((n, line.strip()) for n, line in enumerate(f, 1) if line.strip())


def n_processes(path: Path, rules: Ruleset, workers: int) -> tuple[float, float, Outcome]:
    """``whistle replay --workers N``: the lines streamed to the workers, outcomes merged.
    (wall seconds, CPU seconds of the critical path: this process's + the busiest worker's,
    outcome)"""
    t0, c0 = time.perf_counter(), time.process_time()
    result = replay(numbered(path), rules, workers=workers)
    cpu = time.process_time() - c0 + max(result.cpu)
    return time.perf_counter() - t0, cpu, result.candidate


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def ceiling(workers: int, n: int = 20_000_000) -> float:
    """What this machine gives N processes right now: a pure-Python loop's wall-time speedup
    on N processes against one (1.0 on a loaded machine, about N on free cores)."""
    ctx = multiprocessing.get_context()
    t0 = time.perf_counter()
    with ctx.Pool(1) as pool:
        pool.map(_spin, [n])
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ctx.Pool(workers) as pool:
        pool.map(_spin, [n // workers] * workers)
    return t1 / (time.perf_counter() - t0)


def same(a: Outcome, b: Outcome) -> bool:
    return (a.events, a.decisions, a.final, a.signatures, a.escalations, a.breaches,
            a.figures) == (b.events, b.decisions, b.final, b.signatures, b.escalations,
                           b.breaches, b.figures)


def parallel_figures(path: Path, rules: Ruleset, workers: int, repeat: int,
                     single: bool = True) -> None:
    """1 process against N, interleaved in the same run; medians."""
    singles: list[tuple[float, float]] = []
    multis: list[tuple[float, float]] = []
    outcome: Outcome | None = None
    worker_rss = 0.0
    ceilings = []
    for k in range(repeat):
        ceilings.append(ceiling(workers))
        t, c, o = n_processes(path, rules, workers)
        multis.append((t, c))
        if k == 0:  # before the one-process path grows this process (workers fork from it)
            worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if single:
            t1, c1, o1 = one_process(path, rules)
            singles.append((t1, c1))
            assert same(o, o1), "the parallel outcome differs from one process's"
        outcome = o
    assert outcome is not None
    n = outcome.events
    t_n = statistics.median(t for t, _ in multis)
    c_n = statistics.median(c for _, c in multis)
    print(f"replay of {n:,} inbound events ({outcome.decisions:,} decisions, "
          f"{len(outcome.final):,} issues), parsing included, medians of {repeat}:")
    print("  (critical-path CPU: what the wall time would be on free cores; the wall time on a"
          " loaded machine can say less)")
    head = f"{'':<22}{'wall s':>9}{'events/s':>11}{'crit. CPU s':>13}{'events/s':>11}"
    print(head)
    if single:
        t_1 = statistics.median(t for t, _ in singles)
        c_1 = statistics.median(c for _, c in singles)
        print(f"  {'1 process':<20}{t_1:>9.1f}{n / t_1:>11,.0f}{c_1:>13.1f}{n / c_1:>11,.0f}")
    print(f"  {f'{workers} worker processes':<20}{t_n:>9.1f}{n / t_n:>11,.0f}{c_n:>13.1f}"
          f"{n / c_n:>11,.0f}")
    if single:
        print(f"  speedup {workers} workers / 1 process: wall {t_1 / t_n:.2f}x, critical-path CPU "
              f"{c_1 / c_n:.2f}x (same outcome: yes)")
    print(f"  ceiling: a pure-Python loop on {workers} processes / 1, same run: "
          f"{statistics.median(ceilings):.2f}x (what the machine gave {workers} processes)")
    parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS: largest child process {worker_rss:,.0f} MB (pages shared with this "
          f"process at fork count too); this process {parent_rss:,.0f} MB"
          f"{' (the one-process path included)' if single else ''}")


def _shard(args: tuple[int, int, int, str]) -> str:
    k, issues, shards, path = args
    rules = load_ruleset(RULES).ruleset
    assert rules is not None
    mine = issues // shards + (k < issues % shards)
    with open(path, "wb") as f:
        for e in history(rules, START, mine, timedelta(days=30), seed=7 + k, prefix=f"X{k}"):
            f.write(e.model_dump_json().encode() + b"\n")
    return path


def generated(inbound: int, shards: int) -> Path:
    """About ``inbound`` inbound events (cached): shards of issues, concatenated (not sorted:
    the replay sorts)."""
    issues = math.ceil(inbound / INBOUND_PER_ISSUE)
    path = Path(tempfile.gettempdir()) / f"whistle-bench-{issues}-issues-{shards}.jsonl"
    if path.exists():
        return path
    t0 = time.perf_counter()
    parts = [f"{path}.{k}" for k in range(shards)]
    with multiprocessing.Pool(shards) as pool:
        pool.map(_shard, [(k, issues, shards, p) for k, p in enumerate(parts)])
    with open(f"{path}.tmp", "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    out.write(chunk)
            os.unlink(p)
    os.replace(f"{path}.tmp", path)
    print(f"generated {issues:,} issues in {time.perf_counter() - t0:.0f} s: {path} (the "
          f"generators count as child processes below: run again for the workers' memory)")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="worker processes of the parallel replay (default: the CPU count)")
    ap.add_argument("--inbound", type=int,
                    help="only the replay figures, for a generated history of ~N inbound events")
    ap.add_argument("--no-single", action="store_true",
                    help="with --inbound: skip the one-process path")
    args = ap.parse_args()
    rules = load_ruleset(RULES).ruleset
    assert rules is not None, "sample rules must load"
    if args.inbound:
        path = generated(args.inbound, max(1, args.workers))
        parallel_figures(path, rules, args.workers, 1, single=not args.no_single)
        return
    span = timedelta(days=30)
    events = list(history(rules, START, args.issues, span))
    end = START + span + timedelta(days=60)
    print(f"core: {native.describe()}")
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

    for climbed, label in ((False, "freshly raised"), (True, "climbed by missed limits")):
        per_issue, where = memory_per_issue(rules, events, 10_000, climbed=climbed)
        print(f"memory per open issue, {label}: {per_issue:,.0f} bytes (target <= 2048; "
              f"{where})")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        path.write_bytes(b"".join(e.model_dump_json().encode() + b"\n" for e in events))
        del events
        parallel_figures(path, rules, args.workers, args.repeat)


if __name__ == "__main__":
    main()
