"""What several commands share: loading rules with their errors on stderr, settings, and
writing a rendered report to stdout or ``--output``."""

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


def write_output(text: str, output: Path | None, fmt: str, error: type[Exception],
                 wrote: str) -> None:
    """``text`` to stdout, or to the file ``output`` with ``wrote`` (what it holds) on stderr.
    CSV is written as utf-8-sig, so spreadsheet programs read the Chinese names right. A file
    that cannot be written raises ``error`` naming it."""
    if output is None:
        sys.stdout.write(text)
        return
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    try:
        output.write_text(text, encoding=encoding)
    except OSError as exc:
        raise error(f"--output {output}: {exc.strerror or exc}") from None
    print(f"wrote {output}: {wrote}", file=sys.stderr)
