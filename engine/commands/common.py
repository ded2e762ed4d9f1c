"""What several commands share: loading rules with their errors on stderr, and settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def load_rules(directory: Path) -> Any:
    """The ruleset, or None after printing its errors (warnings are printed too)."""
    from engine.rules.loader import load_ruleset

    result = load_ruleset(directory)
    for err in result.errors:
        print(err, file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return result.ruleset


def settings(args: argparse.Namespace) -> Any:
    """The environment's settings with the command's flags over them."""
    from engine.agents.settings import Settings

    return Settings.from_env().override(
        broker=getattr(args, "broker", None), rules=getattr(args, "rules", None),
        web_port=getattr(args, "web_port", None), topic_prefix=getattr(args, "topic_prefix", None),
        partitions=getattr(args, "partitions", None),
    )
