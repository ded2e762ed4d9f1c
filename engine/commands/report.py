"""``whistle report``: exact assessment figures from the closed loop (``engine.report``)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

HELP = "exact assessment report from the closed loop"
FORMATS = ("table", "csv", "html")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", required=True, metavar="DATE",
                   help="start: YYYY-MM-DD (midnight, Asia/Shanghai) or RFC 3339")
    p.add_argument("--to", dest="end", required=True, metavar="DATE",
                   help="end, exclusive: YYYY-MM-DD or RFC 3339")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--events", type=Path, metavar="FILE.jsonl",
                     help="a JSONL export of issues.closed (one CloudEvent per line)")
    src.add_argument("--broker", help="read the closed and lifecycle topics from this broker "
                     "(WHISTLE_BROKER)")
    p.add_argument("--lifecycle", type=Path, metavar="FILE.jsonl",
                   help="a JSONL export of issues.lifecycle: its overdue, reopened and escalated "
                        "events count in the three rates, its urged, supervised and review_due "
                        "events in the workflow moves (its closures are read from --events)")
    p.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    p.add_argument("--idle-seconds", type=float, default=3.0,
                   help="broker: stop after this long without a record (default 3)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", type=Path, metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--rules", type=Path, metavar="DIR",
                   help="rules whose org registry names streets and departments "
                        "(WHISTLE_RULES; default: the shipped Xishan sample)")


def run(args: argparse.Namespace) -> int:
    from engine.report.period import ReportInputError

    try:
        return _run(args)
    except ReportInputError as exc:
        print(f"whistle report: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from engine.agents.settings import Settings
    from engine.commands.common import write_output
    from engine.report.csvout import render_csv
    from engine.report.figures import assess, dedupe
    from engine.report.html import render_html
    from engine.report.names import load_names
    from engine.report.period import SHANGHAI, ReportInputError, parse_period
    from engine.report.rates import assess_rates
    from engine.report.readers import read_broker, read_jsonl
    from engine.report.text import render_table
    from engine.report.workflow import assess_moves

    start, end = parse_period(args.start, args.end)
    settings = Settings.from_env().override(broker=args.broker, rules=args.rules,
                                            topic_prefix=args.topic_prefix)
    names = load_names(settings.rules)
    if args.events is not None:
        closures = read_jsonl(args.events)
    elif settings.broker is not None:
        closures = read_broker(settings.kafka_python_config(), settings.topics.closed,
                               args.idle_seconds, lifecycle=settings.topics.lifecycle)
    else:
        raise ReportInputError("no events: --events FILE.jsonl, or --broker URL (WHISTLE_BROKER)")
    if args.lifecycle is not None:
        read_jsonl(args.lifecycle, into=closures, closed=False)
    if closures.other:
        print(f"whistle report: passed over {closures.other} engine event(s) the report does "
              "not use", file=sys.stderr)
    if not any(e.type == "issue.overdue" for e in closures.lifecycle):
        print("whistle report: no issue.overdue events: the three rates count closures only "
              "(give --lifecycle FILE.jsonl, or read the broker)", file=sys.stderr)
    try:
        a = assess(closures.events, start, end, departments=list(names.departments),
                   streets=list(names.streets))
        unique = dedupe(closures.events)[0]
        rates = assess_rates(unique, closures.lifecycle, start, end,
                             departments=list(names.departments), streets=list(names.streets),
                             territory=names.territory)
        moves = assess_moves(unique, closures.lifecycle, start, end,
                             departments=list(names.departments), streets=list(names.streets),
                             territory=names.territory)
    except ValueError as exc:
        raise ReportInputError(str(exc)) from None
    if args.format == "csv":
        text = render_csv(a, names, rates, moves)
    elif args.format == "html":
        text = render_html(a, names, generated_at=datetime.now(SHANGHAI), rates=rates,
                           moves=moves)
    else:
        text = render_table(a, names, rates, moves)
    write_output(text, args.output, args.format, ReportInputError,
                 f"{a.issues} issue(s) closed in the period")
    return 0
