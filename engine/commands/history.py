"""``whistle history ISSUE_ID``: an issue's timeline with the rule and the reason of each step,
read from the lifecycle topic (or a JSONL export of it) by ``engine.streams``; the sentences
are ``engine.streams.render``'s."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.streams.render import describe, when

HELP = "an issue's timeline with the reasons, from the lifecycle"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("issue")
    p.add_argument("--events", type=Path, help="a JSONL export of the lifecycle topic")
    p.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p.add_argument("--topic-prefix", help="topic name prefix")
    p.add_argument("--tz", default="Asia/Shanghai")


def run(args: argparse.Namespace) -> int:
    from engine.commands.common import settings
    from engine.streams.jsonl import documents
    from engine.streams.kafka import ReadError
    from engine.streams.kafka import documents as topic_documents

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
            events = topic_documents(s.kafka_python_config(), s.topics.lifecycle)
        except ReadError as exc:
            print(f"whistle history: {exc}", file=sys.stderr)
            return 1
    lines = timeline(args.issue, events, args.tz)
    print("\n".join(lines))
    return 0 if len(lines) > 1 else 1


def timeline(issue: str, events: Iterable[dict[str, Any]], tz: str = "Asia/Shanghai") -> list[str]:
    zone = ZoneInfo(tz)
    seen: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.get("subject") == issue and "id" in e:
            seen.setdefault(e["id"], e)  # redeliveries carry the same id
    ordered = sorted(seen.values(), key=lambda e: (e.get("data", {}).get("sequence", 0),
                                                   e["id"]))
    if not ordered:
        return [f"{issue}: no lifecycle events found"]
    lines = [f"{issue}: {len(ordered)} lifecycle events (times in {tz})"]
    lines += [f"  {when(e.get('time'), zone)}  {describe(e, zone)}" for e in ordered]
    return lines
