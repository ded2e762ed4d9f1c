"""``whistle tail``: print events from a topic as they come."""

from __future__ import annotations

import argparse
import sys

HELP = "print events from a topic as they come"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("topic", nargs="*", help="topics (default: the lifecycle topic)")
    p.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--json", action="store_true", help="print the raw CloudEvents")
    p.add_argument("--limit", type=int, help="stop after this many")
    p.add_argument("--idle-ms", type=int, help="stop after this long without a message")


def run(args: argparse.Namespace) -> int:
    from engine.agents.clients import tail
    from engine.commands.common import settings
    from engine.streams.kafka import ReadError

    s = settings(args)
    if s.broker is None:
        print("tail needs a broker: --broker or WHISTLE_BROKER", file=sys.stderr)
        return 1
    topics = args.topic or [s.topics.lifecycle]
    try:
        tail(s.kafka_python_config(), topics, args.from_beginning, args.json,
             limit=args.limit, idle_ms=args.idle_ms)
    except ReadError as exc:
        print(f"whistle tail: {exc}", file=sys.stderr)
        return 1
    return 0
