"""``whistle run``: the engine worker (embedded broker if none is configured)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the engine worker (embedded broker if none configured)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", help="bootstrap servers (WHISTLE_BROKER); none: embedded broker")
    p.add_argument("--rules", type=Path, help="rules directory (WHISTLE_RULES)")
    p.add_argument("--web-port", type=int, help="web port (WHISTLE_WEB_PORT)")
    p.add_argument("--topic-prefix", help="topic name prefix (WHISTLE_TOPIC_PREFIX)")
    p.add_argument("--partitions", type=int, help="partitions of created topics")
    p.add_argument("--demo", action="store_true", help="publish simulated Xishan traffic")
    p.add_argument("--log-level", default="info")


def run(args: argparse.Namespace) -> int:
    from engine.agents.worker import run as run_worker
    from engine.commands.common import settings

    return run_worker(settings(args), demo=args.demo, loglevel=args.log_level)
