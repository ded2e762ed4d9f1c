"""``whistle points``: totals of the points (积分) ledger for a period (``engine.ledger``)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date, datetime
from pathlib import Path

HELP = "totals of the points ledger for a period, per person and per kind"
FORMATS = ("table", "csv")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEAR = re.compile(r"\d{4}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", metavar="DATE",
                   help="start: YYYY-MM-DD (midnight, Asia/Shanghai) or RFC 3339")
    p.add_argument("--to", dest="end", metavar="DATE",
                   help="end, exclusive: YYYY-MM-DD or RFC 3339")
    p.add_argument("--period", metavar="P",
                   help="instead of --from/--to: a year (2026), a month (2026-11) or a day "
                        "(2026-11-23), in Asia/Shanghai")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--events", "--file", dest="events", type=Path, metavar="FILE.jsonl",
                     help="a JSONL export of points.ledger (one CloudEvent per line)")
    src.add_argument("--broker", help="read points.ledger from this broker (WHISTLE_BROKER)")
    p.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    p.add_argument("--idle-seconds", type=float, default=3.0,
                   help="broker: stop after this long without a record (default 3)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", type=Path, metavar="FILE", help="write here (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from engine.ledger import LedgerError
    from engine.report.period import ReportInputError

    try:
        return _run(args)
    except (LedgerError, ReportInputError) as exc:
        print(f"whistle points: {exc}", file=sys.stderr)
        return 1


def period(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    """The period from ``--period`` or ``--from``/``--to`` (either may be left out: open)."""
    from engine.ledger import LedgerError
    from engine.report.period import SHANGHAI, parse_when

    if args.period is not None:
        if args.start is not None or args.end is not None:
            raise LedgerError("--period or --from/--to, not both")
        text = args.period.strip()
        try:
            if _YEAR.fullmatch(text):
                first, after = date(int(text), 1, 1), date(int(text) + 1, 1, 1)
            elif m := _MONTH.fullmatch(text):
                year, month = int(m.group(1)), int(m.group(2))
                first = date(year, month, 1)
                after = date(year + month // 12, month % 12 + 1, 1)
            else:
                first = date.fromisoformat(text)
                after = date.fromordinal(first.toordinal() + 1)
        except ValueError:
            raise LedgerError(f"--period {text!r}: expected YYYY, YYYY-MM or YYYY-MM-DD") from None
        midnight = datetime.min.time()
        return (datetime.combine(first, midnight, SHANGHAI),
                datetime.combine(after, midnight, SHANGHAI))
    start = parse_when(args.start, "--from") if args.start is not None else None
    end = parse_when(args.end, "--to") if args.end is not None else None
    if start is not None and end is not None and end <= start:
        raise LedgerError(f"--to {args.end} must be after --from {args.start} (--to is exclusive)")
    return start, end


def _run(args: argparse.Namespace) -> int:
    from engine.agents.settings import Settings
    from engine.commands.common import write_output
    from engine.ledger import LedgerError, read_broker, read_jsonl, render_csv, render_table, totals

    start, end = period(args)
    settings = Settings.from_env().override(broker=args.broker, topic_prefix=args.topic_prefix)
    if args.events is not None:
        ledger = read_jsonl(args.events)
    elif settings.broker is not None:
        ledger = read_broker(settings.kafka_python_config(), settings.topics.points,
                             args.idle_seconds)
    else:
        raise LedgerError("no events: --events FILE.jsonl, or --broker URL (WHISTLE_BROKER)")
    if ledger.other:
        print(f"whistle points: passed over {ledger.other} engine event(s) that are not "
              "points.awarded or points.reversed", file=sys.stderr)
    if ledger.duplicates:
        print(f"whistle points: {ledger.duplicates} redelivered event(s) counted once",
              file=sys.stderr)
    t = totals(ledger, start, end)
    text = render_csv(t) if args.format == "csv" else render_table(t)
    write_output(text, args.output, args.format, LedgerError, f"{len(t.by_person)} person(s)")
    return 0
