"""Golden replays: a scenario's events in, the engine's lifecycle out, compared line by line.

Scenarios live in tests/testdata/replays/scenarios/*.yaml, run on the rules in
tests/testdata/replays/rules/ (or the directory beside it a scenario names in ``rules:``) with a
virtual clock. Run with UPDATE_GOLDENS=1 to rewrite the
expected files after a deliberate change, then read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.domain.events import INBOUND_TYPES, Envelope
from engine.domain.replay import Replayer
from engine.rules.loader import load_ruleset

HERE = Path(__file__).parent / "testdata" / "replays"
SCENARIOS = sorted((HERE / "scenarios").glob("*.yaml"))


def load_doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc


def load_events(path: Path) -> tuple[list[Envelope], datetime]:
    doc = load_doc(path)
    events = []
    for n, (at, kind, data) in enumerate(doc["events"], 1):
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        events.append(
            INBOUND_TYPES[f"issue.{kind}"].model_validate(
                {"id": f"{path.stem}-{n}", "source": "grid-app/xishan", "subject": "XS-2026-000001",
                 "time": when.isoformat(), "type": f"issue.{kind}", "data": data},
                strict=False,
            )
        )
    until = doc["until"]
    return events, until if isinstance(until, datetime) else datetime.fromisoformat(str(until))


def lifecycle(path: Path) -> list[str]:
    result = load_ruleset(HERE / str(load_doc(path).get("rules", "rules")))
    assert result.ruleset is not None, result.errors
    events, until = load_events(path)
    lines: list[str] = []
    for d in Replayer(result.ruleset).run(events, until=until):
        if d.result != "accepted":
            lines.append(json.dumps({"result": d.result, "reason": d.reason}))
        for e in d.emit:
            body: dict[str, Any] = e.model_dump(mode="json")
            lines.append(json.dumps(body, ensure_ascii=False, sort_keys=True))
    return lines


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_golden_replay(scenario: Path) -> None:
    expected_file = scenario.with_suffix(".lifecycle.jsonl")
    got = lifecycle(scenario)
    if os.environ.get("UPDATE_GOLDENS"):
        expected_file.write_text("\n".join(got) + "\n", encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8").splitlines()
    assert got == expected, f"{scenario.name}: lifecycle differs from {expected_file.name}"


def test_every_scenario_has_a_golden() -> None:
    assert len(SCENARIOS) >= 8
    for s in SCENARIOS:
        assert s.with_suffix(".lifecycle.jsonl").exists(), s
