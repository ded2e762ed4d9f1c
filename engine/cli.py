"""The ``whistle`` command line: one entry point, subcommands delegating to small modules."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    code: int = args.func(args)
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
    p_pub.add_argument("--skip-invalid", action="store_true",
                       help="publish the valid lines even if some are not")
    p_pub.set_defaults(func=cmd_publish)

    p_tail = sub.add_parser("tail", help="print events from a topic as they come")
    p_tail.add_argument("topic", nargs="*", help="topics (default: the lifecycle topic)")
    p_tail.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p_tail.add_argument("--from-beginning", action="store_true")
    p_tail.add_argument("--json", action="store_true", help="print the raw CloudEvents")
    p_tail.add_argument("--limit", type=int, help="stop after this many")
    p_tail.add_argument("--idle-ms", type=int, help="stop after this long without a message")
    p_tail.set_defaults(func=cmd_tail)

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
    from engine.agents.processor import Topics

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
    n = publish(settings.kafka_python_config(), Topics.with_prefix(settings.topic_prefix).events,
                good)
    print(f"published {n} event(s) to {settings.broker}")
    return 1 if bad else 0


def cmd_tail(args: argparse.Namespace) -> int:
    from engine.agents.clients import tail
    from engine.agents.processor import Topics

    settings = _settings(args)
    if settings.broker is None:
        print("tail needs a broker: --broker or WHISTLE_BROKER", file=sys.stderr)
        return 1
    topics = args.topic or [Topics.with_prefix(settings.topic_prefix).lifecycle]
    tail(settings.kafka_python_config(), topics, args.from_beginning, args.json,
         limit=args.limit, idle_ms=args.idle_ms)
    return 0


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
