"""``whistle replay``: what-if: run recorded events through rules, compare."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

HELP = "what-if: run recorded events through rules, compare"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", type=Path, required=True, help="the candidate rules")
    p.add_argument("--baseline", type=Path, help="the rules to compare with")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--events", type=Path, help="a JSONL file of inbound CloudEvents")
    src.add_argument("--from-topic", action="store_true",
                     help="read the events topic from the broker (WHISTLE_BROKER)")
    p.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p.add_argument("--topic-prefix", help="topic name prefix")
    p.add_argument("--until", help="run the virtual clock to this RFC 3339 time")
    p.add_argument("--limit", type=int, default=50, help="changed issues to list")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes; issues are partitioned by id and the report is the "
                        "same as one process's (default: the CPU count; 1: in this process)")


def run(args: argparse.Namespace) -> int:
    from engine.commands.common import load_rules, settings
    from engine.streams import jsonl
    from engine.streams.kafka import ReadError, read

    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        print("--workers: at least 1", file=sys.stderr)
        return 2
    candidate = load_rules(args.rules)
    baseline = load_rules(args.baseline) if args.baseline else None
    if candidate is None or (args.baseline and baseline is None):
        return 1
    until = datetime.fromisoformat(args.until) if args.until else None
    if args.events:
        try:
            lines: Iterable[tuple[int, bytes]] = jsonl.lines(args.events)
        except OSError as exc:
            print(f"{args.events}: {exc.strerror}", file=sys.stderr)
            return 1
        where = f"{args.events}:"
    else:
        s = settings(args)
        if s.broker is None:
            print("--from-topic needs a broker: --broker or WHISTLE_BROKER", file=sys.stderr)
            return 1
        topic = s.topics.events
        try:
            records = list(read(s.kafka_python_config(), [topic]))
        except ReadError as exc:
            print(f"whistle replay: {exc}", file=sys.stderr)
            return 1
        lines = [(n, r.value) for n, r in enumerate(records) if r.value is not None]
        where = f"{topic}#"
    if workers > 1:
        return _parallel(args, lines, where, candidate, baseline, until, workers)
    return _single(args, lines, where, candidate, baseline, until)


def _single(args: argparse.Namespace, lines: Iterable[tuple[int, bytes]], where: str,
            candidate: Any, baseline: Any, until: datetime | None) -> int:
    from engine.domain.parse import Accepted, parse
    from engine.whatif import report, run

    events, bad = [], []
    for n, raw in lines:
        parsed = parse(raw, None, candidate.registry.grids)
        if isinstance(parsed, Accepted):
            events.append(parsed.event)
        else:
            bad.append(f"{where}{n}: {parsed.reason}: {parsed.detail}")
    for line in bad[:20]:
        print(f"skipped {line}", file=sys.stderr)
    if len(bad) > 20:
        print(f"skipped {len(bad) - 20} more", file=sys.stderr)
    events.sort(key=lambda e: e.time)
    cand = run(candidate, events, until)
    base = run(baseline, events, until) if baseline is not None else None
    print("\n".join(report(cand, base, limit=args.limit)))
    return 0


def _parallel(args: argparse.Namespace, lines: Iterable[tuple[int, bytes]], where: str,
              candidate: Any, baseline: Any, until: datetime | None, workers: int) -> int:
    from engine.parallel import WorkerError, replay
    from engine.whatif import report

    try:
        result = replay(lines, candidate, baseline, until=until, workers=workers)
    except WorkerError as exc:
        print(f"whistle replay: {exc}", file=sys.stderr)
        return 1
    for n, problem in result.rejected:
        print(f"skipped {where}{n}: {problem}", file=sys.stderr)
    if result.rejected_count > len(result.rejected):
        print(f"skipped {result.rejected_count - len(result.rejected)} more", file=sys.stderr)
    print("\n".join(report(result.candidate, result.baseline, limit=args.limit)))
    print(f"replayed on {workers} worker processes in {result.seconds:.2f} s (wall)",
          file=sys.stderr)
    return 0
