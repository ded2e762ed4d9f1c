"""The differential golden: the core decides a holiday-season history exactly as recorded.

tests/testdata/core-golden/decisions.jsonl.gz holds every decision (emitted events, counts,
warnings) and every final state of 3,000 generated issues around National Day 2026, recorded
from the core before its speed work (issue 10). Any change to the core must reproduce it line
for line; a deliberate change regenerates it (see generate.py) in the same commit.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from itertools import zip_longest
from pathlib import Path

GOLDEN = Path(__file__).parent / "testdata" / "core-golden"


def test_the_core_reproduces_the_recorded_decisions_line_for_line() -> None:
    spec = importlib.util.spec_from_file_location("core_golden", GOLDEN / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    with gzip.open(GOLDEN / "decisions.jsonl.gz", "rt", encoding="utf-8") as f:
        recorded = f.read().splitlines()
    assert len(recorded) > 20_000
    for n, (want, got) in enumerate(zip_longest(recorded, generate.lines()), start=1):
        if want != got:
            w = json.loads(want) if want else {}
            g = json.loads(got) if got else {}
            fields = sorted(k for k in set(w) | set(g) if w.get(k) != g.get(k))
            raise AssertionError(
                f"line {n} differs in {fields}\n  recorded: {want}\n  now:      {got}")
