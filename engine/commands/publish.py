"""``whistle publish``: validate a JSONL file of events, then publish it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "validate a JSONL file of events, then publish it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path)
    p.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER)")
    p.add_argument("--rules", type=Path, help="rules whose registry validates grids")
    p.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="publish the valid lines even if some are not")


def run(args: argparse.Namespace) -> int:
    from engine.agents.clients import publish, validate_lines
    from engine.commands.common import load_rules, settings

    s = settings(args)
    if s.broker is None:
        print("publish needs a broker: --broker or WHISTLE_BROKER", file=sys.stderr)
        return 1
    rules = load_rules(s.rules)
    if rules is None:
        return 1
    good, bad = validate_lines(args.file, rules)
    for line in bad:
        print(line, file=sys.stderr)
    if bad and not args.skip_invalid:
        print(f"{len(bad)} invalid line(s); nothing published (--skip-invalid to publish the "
              f"{len(good)} valid ones)", file=sys.stderr)
        return 1
    n = publish(s.kafka_python_config(), s.topics.events, good)
    print(f"published {n} event(s) to {s.broker}")
    return 1 if bad else 0
