"""Benchmark: machine instructions per core decision, counted by callgrind (deterministic).

Wall time on a shared machine varies by 2x from run to run; an instruction count does not
(within a few hundred per decision). The same fixed history (``--issues`` generated Xishan
issues, seed 7) is replayed through ``Replayer`` (decide plus the virtual clock), once to warm
up (calendar index, caches) and then ``--repeat`` more times; the script runs itself twice
under ``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``, once without the measured
replays, and prints the difference divided by the decisions made. Needs valgrind. A figure,
never pass/fail; compare runs on the same Python build only.

Usage: python benchmarks/core_instructions.py [--issues N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

RULES = Path(__file__).resolve().parent.parent / "engine" / "sample" / "xishan"
START = datetime(2026, 11, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def replay(issues: int, repeat: int) -> int:
    """Warm up, then replay ``repeat`` times; the decisions of the measured replays."""
    from engine.domain.replay import Replayer
    from engine.rules.loader import load_ruleset
    from engine.simulation import history

    rules = load_ruleset(RULES).ruleset
    assert rules is not None
    events = list(history(rules, START, issues, timedelta(days=30)))
    end = START + timedelta(days=90)
    sum(1 for _ in Replayer(rules).run(events, until=end))
    return sum(sum(1 for _ in Replayer(rules).run(events, until=end)) for _ in range(repeat))


def instructions(issues: int, repeat: int) -> tuple[int, int]:
    """(instructions, decisions) of one callgrind run of this script."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
             __file__, "--inner", "--issues", str(issues), "--repeat", str(repeat)],
            env=env, capture_output=True, text=True, check=True)
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert totals is not None, "no totals in the callgrind output"
        decisions = re.search(r"decisions (\d+)", run.stdout)
        assert decisions is not None, run.stdout + run.stderr
        return int(totals.group(1)), int(decisions.group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        print(f"decisions {replay(args.issues, args.repeat)}")
        return
    base, _ = instructions(args.issues, 0)
    total, decisions = instructions(args.issues, args.repeat)
    print(f"{decisions:,} decisions ({args.issues} issues x {args.repeat}): "
          f"{(total - base) / decisions:,.0f} instructions per decision (callgrind)")


if __name__ == "__main__":
    main()
