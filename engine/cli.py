"""The ``whistle`` command line: one entry point and the registry of its commands.

Each command is a module of ``engine.commands`` with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> exit code``; a command with actions (``rules``) sets ``func`` per action.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = ("run", "publish", "tail", "replay", "history", "rules", "report", "points")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    from engine.agents.settings import SettingsError

    try:
        code: int = args.func(args)
    except SettingsError as e:
        print(f"whistle: {e}", file=sys.stderr)
        return 2
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="whistle", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"engine.commands.{name}")
        command = sub.add_parser(name, help=module.HELP)
        command.set_defaults(func=module.run)
        module.add_arguments(command)
    return p


if __name__ == "__main__":
    sys.exit(main())
