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

    s = rsub.add_parser("show", help="the org registry and the compiled rules")
    s.add_argument("dir", type=Path)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)
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


def cmd_show(args: argparse.Namespace) -> int:
    from engine.show import render_show, show

    rules = _load(args.dir)
    if rules is None:
        return 1
    data = show(rules)
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else render_show(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
