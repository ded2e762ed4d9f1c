"""``whistle rules check|explain|test|show``: rule files, checked, explained and shown."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

HELP = "check, explain and show rule files"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(metavar="ACTION")

    c = sub.add_parser("check", help="validate the org registry and rule files in DIR")
    c.add_argument("dir", type=Path)
    c.set_defaults(func=check)

    e = sub.add_parser("explain", help="which rule an event matches, and its ladder")
    e.add_argument("dir", type=Path)
    e.add_argument("--event", type=Path, required=True, help="a CloudEvent (issue.raised) file")
    e.add_argument("--at", help="pretend the event happened at this RFC 3339 time")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=explain)

    t = sub.add_parser("test", help="run expected-outcome cases against the rules in DIR")
    t.add_argument("dir", type=Path)
    t.add_argument("cases", type=Path)
    t.set_defaults(func=cases)

    s = sub.add_parser("show", help="the org registry and the compiled rules")
    s.add_argument("dir", type=Path)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=show)
    p.set_defaults(rules_parser=p)


def run(args: argparse.Namespace) -> int:
    """``whistle rules`` without an action: its help."""
    args.rules_parser.print_help()
    return 2


def check(args: argparse.Namespace) -> int:
    from engine.rules.check import check as check_dir

    code, lines = check_dir(args.dir)
    for line in lines:
        print(line)
    return code


def cases(args: argparse.Namespace) -> int:
    from engine.commands.common import load_rules
    from engine.rules.cases import run_cases

    rules = load_rules(args.dir)
    if rules is None:
        return 1
    code, lines = run_cases(rules, args.cases)
    print("\n".join(lines))
    return code


def explain(args: argparse.Namespace) -> int:
    from engine.commands.common import load_rules
    from engine.domain.events import IssueRaised
    from engine.domain.parse import Accepted, parse
    from engine.explain import explain as explain_event
    from engine.explain import render

    rules = load_rules(args.dir)
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
    report = explain_event(parsed.event, rules, at)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else render(report))
    return 0


def show(args: argparse.Namespace) -> int:
    from engine.commands.common import load_rules
    from engine.show import render_show
    from engine.show import show as show_rules

    rules = load_rules(args.dir)
    if rules is None:
        return 1
    data = show_rules(rules)
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else render_show(data))
    return 0
