"""``whistle history ISSUE_ID``: an issue's timeline with the reasons, from the lifecycle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "an issue's timeline with the reasons, from the lifecycle"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("issue")
    p.add_argument("--events", type=Path, help="a JSONL export of the lifecycle topic")
    p.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p.add_argument("--topic-prefix", help="topic name prefix")
    p.add_argument("--tz", default="Asia/Shanghai")


def run(args: argparse.Namespace) -> int:
    from engine.commands.common import settings
    from engine.history import read_topic, timeline
    from engine.streams.jsonl import documents
    from engine.streams.kafka import ReadError

    if args.events:
        try:
            events = documents(args.events)
        except (OSError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return 1
    else:
        s = settings(args)
        if s.broker is None:
            print("history needs --events FILE or a broker (--broker, WHISTLE_BROKER)",
                  file=sys.stderr)
            return 1
        try:
            events = read_topic(s.kafka_python_config(), s.topics.lifecycle)
        except ReadError as exc:
            print(f"whistle history: {exc}", file=sys.stderr)
            return 1
    lines = timeline(args.issue, events, args.tz)
    print("\n".join(lines))
    return 0 if len(lines) > 1 else 1
