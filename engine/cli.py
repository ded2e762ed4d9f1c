"""The ``whistle`` command line: one entry point, subcommands delegating to small modules."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    from engine.agents.settings import SettingsError

    try:
        code: int = args.func(args)
    except SettingsError as e:
        print(f"whistle: {e}", file=sys.stderr)
        return 2
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="whistle", description=__doc__)
    sub = p.add_subparsers(metavar="COMMAND")

    r = sub.add_parser("run", help="run the engine worker (embedded broker if none configured)")
    r.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER); none: embedded broker")
    r.add_argument("--rules", type=Path, help="rules directory (WHISTLE_RULES)")
    r.add_argument("--web-port", type=int, help="web port (WHISTLE_WEB_PORT)")
    r.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    r.add_argument("--partitions", type=int, help="partitions of created topics")
    r.add_argument("--demo", action="store_true", help="publish simulated Xishan traffic")
    r.add_argument("--log-level", default="info")
    r.set_defaults(func=cmd_run)

    p_pub = sub.add_parser("publish", help="validate a JSONL file of events, then publish it")
    p_pub.add_argument("file", type=Path)
    p_pub.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p_pub.add_argument("--rules", type=Path, help="rules whose registry validates grids")
    p_pub.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    p_pub.add_argument("--skip-invalid", action="store_true",
                       help="publish the valid lines even if some are not")
    p_pub.set_defaults(func=cmd_publish)

    p_tail = sub.add_parser("tail", help="print events from a topic as they come")
    p_tail.add_argument("topic", nargs="*", help="topics (default: the lifecycle topic)")
    p_tail.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p_tail.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    p_tail.add_argument("--from-beginning", action="store_true")
    p_tail.add_argument("--json", action="store_true", help="print the raw CloudEvents")
    p_tail.add_argument("--limit", type=int, help="stop after this many")
    p_tail.add_argument("--idle-ms", type=int, help="stop after this long without a message")
    p_tail.set_defaults(func=cmd_tail)

    rp = sub.add_parser("replay", help="what-if: run recorded events through rules, compare")
    rp.add_argument("--rules", type=Path, required=True, help="the candidate rules")
    rp.add_argument("--baseline", type=Path, help="the rules to compare with")
    src = rp.add_mutually_exclusive_group(required=True)
    src.add_argument("--events", type=Path, help="a JSONL file of inbound CloudEvents")
    src.add_argument("--from-topic", action="store_true",
                     help="read the events topic from the broker (WHISTLE_BROKER)")
    rp.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    rp.add_argument("--topic-prefix", help="topic name prefix")
    rp.add_argument("--until", help="run the virtual clock to this RFC 3339 time")
    rp.add_argument("--limit", type=int, default=50, help="changed issues to list")
    rp.add_argument("--workers", type=int, metavar="N",
                    help="worker processes; issues are partitioned by id and the report is the "
                         "same as one process's (default: the CPU count; 1: in this process)")
    rp.set_defaults(func=cmd_replay)

    h = sub.add_parser("history", help="an issue's timeline with the reasons, from the lifecycle")
    h.add_argument("issue")
    h.add_argument("--events", type=Path, help="a JSONL export of the lifecycle topic")
    h.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    h.add_argument("--topic-prefix", help="topic name prefix")
    h.add_argument("--tz", default="Asia/Shanghai")
    h.set_defaults(func=cmd_history)

    rules = sub.add_parser("rules", help="check, explain and show rule files")
    rsub = rules.add_subparsers(metavar="ACTION")

    c = rsub.add_parser("check", help="validate the org registry and rule files in DIR")
    c.add_argument("dir", type=Path)
    c.set_defaults(func=cmd_check)

    e = rsub.add_parser("explain", help="which rule an event matches, and its ladder")
    e.add_argument("dir", type=Path)
    e.add_argument("--event", type=Path, required=True, help="a CloudEvent (issue.raised) file")
    e.add_argument("--at", help="pretend the event happened at this RFC 3339 time")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_explain)

    t = rsub.add_parser("test", help="run expected-outcome cases against the rules in DIR")
    t.add_argument("dir", type=Path)
    t.add_argument("cases", type=Path)
    t.set_defaults(func=cmd_rules_test)

    s = rsub.add_parser("show", help="the org registry and the compiled rules")
    s.add_argument("dir", type=Path)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)

    _add_report_parser(sub)
    return p


def _load(directory: Path) -> Any:
    from engine.rules.loader import load_ruleset

    result = load_ruleset(directory)
    for err in result.errors:
        print(err, file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return result.ruleset


def cmd_check(args: argparse.Namespace) -> int:
    from engine.rules.check import check

    code, lines = check(args.dir)
    for line in lines:
        print(line)
    return code


def cmd_rules_test(args: argparse.Namespace) -> int:
    from engine.rules.cases import run_cases

    rules = _load(args.dir)
    if rules is None:
        return 1
    code, lines = run_cases(rules, args.cases)
    print("\n".join(lines))
    return code


def cmd_explain(args: argparse.Namespace) -> int:
    from engine.domain.events import IssueRaised
    from engine.domain.parse import Accepted, parse
    from engine.explain import explain, render

    rules = _load(args.dir)
    if rules is None:
        return 1
    try:
        raw = args.event.read_bytes()
    except OSError as exc:
        print(f"{args.event}: {exc.strerror}", file=sys.stderr)
        return 1
    parsed = parse(raw, None, rules.registry.grids)
    if not isinstance(parsed, Accepted):
        print(f"{args.event}: rejected: {parsed.reason}: {parsed.detail}", file=sys.stderr)
        return 1
    if not isinstance(parsed.event, IssueRaised):
        print(f"{args.event}: explain needs an issue.raised event, not {parsed.event.type}",
              file=sys.stderr)
        return 1
    at = None
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            print(f"--at {args.at}: expected an RFC 3339 time with an offset", file=sys.stderr)
            return 1
    report = explain(parsed.event, rules, at)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else render(report))
    return 0


def _settings(args: argparse.Namespace) -> Any:
    from engine.agents.settings import Settings

    return Settings.from_env().override(
        broker=getattr(args, "broker", None), rules=getattr(args, "rules", None),
        web_port=getattr(args, "web_port", None), topic_prefix=getattr(args, "topic_prefix", None),
        partitions=getattr(args, "partitions", None),
    )


def cmd_run(args: argparse.Namespace) -> int:
    from engine.agents.worker import run

    return run(_settings(args), demo=args.demo, loglevel=args.log_level)


def cmd_publish(args: argparse.Namespace) -> int:
    from engine.agents.clients import publish, validate_lines

    settings = _settings(args)
    if settings.broker is None:
        print("publish needs a broker: --broker or WHISTLE_BROKER", file=sys.stderr)
        return 1
    rules = _load(settings.rules)
    if rules is None:
        return 1
    good, bad = validate_lines(args.file, rules)
    for line in bad:
        print(line, file=sys.stderr)
    if bad and not args.skip_invalid:
        print(f"{len(bad)} invalid line(s); nothing published (--skip-invalid to publish the "
              f"{len(good)} valid ones)", file=sys.stderr)
        return 1
    n = publish(settings.kafka_python_config(), settings.topics.events,
                good)
    print(f"published {n} event(s) to {settings.broker}")
    return 1 if bad else 0


def cmd_tail(args: argparse.Namespace) -> int:
    from engine.agents.clients import tail

    settings = _settings(args)
    if settings.broker is None:
        print("tail needs a broker: --broker or WHISTLE_BROKER", file=sys.stderr)
        return 1
    topics = args.topic or [settings.topics.lifecycle]
    tail(settings.kafka_python_config(), topics, args.from_beginning, args.json,
         limit=args.limit, idle_ms=args.idle_ms)
    return 0


def _inbound(raw_lines: list[tuple[str, bytes]], rules: Any) -> tuple[list[Any], list[str]]:
    from engine.domain.parse import Accepted, parse

    events, bad = [], []
    for where, raw in raw_lines:
        parsed = parse(raw, None, rules.registry.grids)
        if isinstance(parsed, Accepted):
            events.append(parsed.event)
        else:
            bad.append(f"{where}: {parsed.reason}: {parsed.detail}")
    return events, bad


def cmd_replay(args: argparse.Namespace) -> int:
    from engine.whatif import report, run

    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        print("--workers: at least 1", file=sys.stderr)
        return 2
    candidate = _load(args.rules)
    baseline = _load(args.baseline) if args.baseline else None
    if candidate is None or (args.baseline and baseline is None):
        return 1
    until = datetime.fromisoformat(args.until) if args.until else None
    if args.events:
        try:
            source = args.events.open("rb")
        except OSError as exc:
            print(f"{args.events}: {exc.strerror}", file=sys.stderr)
            return 1
        with source:
            if workers == 1:
                raw = [(f"{args.events}:{n}", line.strip()) for n, line in enumerate(source, 1)
                       if line.strip()]
            else:
                lines = ((n, line.strip()) for n, line in enumerate(source, 1) if line.strip())
                return _replay_parallel(args, lines, f"{args.events}:", candidate, baseline,
                                        until, workers)
    else:
        from engine.history import read_topic

        settings = _settings(args)
        if settings.broker is None:
            print("--from-topic needs a broker: --broker or WHISTLE_BROKER", file=sys.stderr)
            return 1
        topic = settings.topics.events
        records = read_topic(settings.kafka_python_config(), topic)
        if workers > 1:
            lines = ((n, json.dumps(e).encode()) for n, e in enumerate(records))
            return _replay_parallel(args, lines, f"{topic}#", candidate, baseline, until,
                                    workers)
        raw = [(f"{topic}#{n}", json.dumps(e).encode()) for n, e in enumerate(records)]
    events, bad = _inbound(raw, candidate)
    for line in bad[:20]:
        print(f"skipped {line}", file=sys.stderr)
    if len(bad) > 20:
        print(f"skipped {len(bad) - 20} more", file=sys.stderr)
    events.sort(key=lambda e: e.time)
    cand = run(candidate, events, until)
    base = run(baseline, events, until) if baseline is not None else None
    print("\n".join(report(cand, base, limit=args.limit)))
    return 0


def _replay_parallel(args: argparse.Namespace, lines: Iterable[tuple[int, bytes]], where: str,
                     candidate: Any, baseline: Any, until: datetime | None,
                     workers: int) -> int:
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


def cmd_history(args: argparse.Namespace) -> int:
    from engine.history import read_topic, timeline
    from engine.streams.jsonl import documents as read_jsonl

    if args.events:
        try:
            events = read_jsonl(args.events)
        except (OSError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return 1
    else:

        settings = _settings(args)
        if settings.broker is None:
            print("history needs --events FILE or a broker (--broker, WHISTLE_BROKER)",
                  file=sys.stderr)
            return 1
        events = read_topic(settings.kafka_python_config(),
                            settings.topics.lifecycle)
    lines = timeline(args.issue, events, args.tz)
    print("\n".join(lines))
    return 0 if len(lines) > 1 else 1


def cmd_show(args: argparse.Namespace) -> int:
    from engine.show import render_show, show

    rules = _load(args.dir)
    if rules is None:
        return 1
    data = show(rules)
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else render_show(data))
    return 0



# --- whistle report: exact assessment figures from issues.closed (engine/report) -----------


def _add_report_parser(sub: Any) -> None:
    from engine.report.command import add_arguments

    rep = sub.add_parser("report", help="exact assessment report from the closed loop")
    add_arguments(rep)
    rep.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from engine.report.command import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
