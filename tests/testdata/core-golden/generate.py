"""Record what the core decides for a generated holiday-season history: the differential golden.

The history: ``ISSUES`` simulated Xishan issues (engine.simulation.history, seed 7) raised over
the three weeks around National Day 2026 (the make-up working Sunday and Saturday included),
replayed through the core with its virtual clock (engine.domain.replay.Replayer) to the end of
October. Written, gzip'd JSON lines, to ``decisions.jsonl.gz``: one line per decision (issue,
result, reason, the emitted events, the counts, the warnings), then one line per final state.

The core's speed work must reproduce this file exactly (tests/test_core_golden.py); a
deliberate change of behaviour or encoding regenerates it in the same commit, and says why:

    .venv/bin/python tests/testdata/core-golden/generate.py
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine.domain.replay import Replayer
from engine.rules.loader import load_ruleset
from engine.simulation import history

HERE = Path(__file__).resolve().parent
RULES = HERE.parents[2] / "engine" / "sample" / "xishan"
OUT = HERE / "decisions.jsonl.gz"
ISSUES = 3000
CST = timezone(timedelta(hours=8))
START = datetime(2026, 9, 21, 8, 0, tzinfo=CST)  # the week before National Day
SPAN = timedelta(days=21)
END = datetime(2026, 10, 31, 23, 59, tzinfo=CST)


def lines() -> Iterator[str]:
    rules = load_ruleset(RULES).ruleset
    assert rules is not None
    events = list(history(rules, START, ISSUES, SPAN))
    replayer = Replayer(rules)
    for d in replayer.run(events, until=END):
        yield json.dumps({
            "issue": d.state.issue_id if d.state is not None else None,
            "result": d.result, "reason": d.reason,
            "emit": [json.loads(e.model_dump_json()) for e in d.emit],
            "counts": [[c.family, [list(kv) for kv in c.labels], c.value] for c in d.counts],
            "warnings": list(d.warnings),
        }, ensure_ascii=False, sort_keys=True)
    for issue_id in sorted(replayer.states):
        state = replayer.states[issue_id]
        yield json.dumps({"state": json.loads(state.model_dump_json())}, ensure_ascii=False,
                         sort_keys=True)


def main() -> None:
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        n = 0
        for line in lines():
            f.write(line.encode() + b"\n")
            n += 1
    print(f"wrote {OUT} ({n} lines, {OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
