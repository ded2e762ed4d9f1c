"""``whistle replay``: a month of Xishan traffic under two rule versions, known differences."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.domain.events import INBOUND_TYPES, Envelope
from engine.rules.loader import load_ruleset
from engine.simulation import history
from engine.whatif import changed_issues, run

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "engine" / "sample" / "xishan"
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
NO_VILLAGE = "      - {level: village, respond: 4 working hours, resolve: 3 working days}\n"


def candidate(tmp: Path) -> Path:
    """The sample rules with the village rung taken out of the catch-all rule's ladder."""
    out = tmp / "candidate"
    shutil.copytree(SAMPLE, out)
    text = (out / "rules.yaml").read_text(encoding="utf-8")
    head, tail = text.split("  - id: default", 1)
    assert NO_VILLAGE in tail
    (out / "rules.yaml").write_text(head + "  - id: default" + tail.replace(NO_VILLAGE, ""),
                                    encoding="utf-8")
    return out


def ev(kind: str, issue: str, at: datetime, n: int, **data: Any) -> Envelope:
    return INBOUND_TYPES[f"issue.{kind}"].model_validate(
        {"id": f"{issue}-{n}", "source": "grid-app/test", "subject": issue, "type":
         f"issue.{kind}", "time": at.isoformat(), "data": data}, strict=False)


MON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC) - timedelta(hours=8)  # 09:00 in Xishan


def known() -> list[Envelope]:
    """K1 is whistled up and solved by the village: the candidate has no village, so it goes to
    the street, which never acts. K2 is solved at the grid: no change."""
    grid, village = "yangjian-c01-g1", "yangjian-c01"
    return [
        ev("raised", "K1", MON, 1, grid=grid, category="noise", title="t"),
        ev("acknowledged", "K1", MON + timedelta(minutes=5), 2, unit=grid),
        ev("whistled", "K1", MON + timedelta(minutes=10), 3, unit=grid, reason="r"),
        ev("acknowledged", "K1", MON + timedelta(minutes=20), 4, unit=village),
        ev("resolved", "K1", MON + timedelta(hours=2), 5, unit=village),
        ev("rated", "K1", MON + timedelta(hours=3), 6, satisfied=True),
        ev("raised", "K2", MON, 1, grid=grid, category="noise", title="t"),
        ev("acknowledged", "K2", MON + timedelta(minutes=5), 2, unit=grid),
        ev("resolved", "K2", MON + timedelta(hours=1), 3, unit=grid),
        ev("rated", "K2", MON + timedelta(hours=2), 4, satisfied=True),
    ]


@pytest.fixture(scope="module")
def month() -> list[Envelope]:
    rules = load_ruleset(SAMPLE).ruleset
    assert rules is not None
    return list(history(rules, START, 400, timedelta(days=30), seed=5)) + known()


def test_a_rules_change_changes_exactly_the_issues_it_should(month: list[Envelope],
                                                             tmp_path: Path) -> None:
    base_rules = load_ruleset(SAMPLE).ruleset
    cand_rules = load_ruleset(candidate(tmp_path)).ruleset
    assert base_rules is not None and cand_rules is not None
    events = sorted(month, key=lambda e: e.time)
    base, cand = run(base_rules, events, lifecycle=True), run(cand_rules, events, lifecycle=True)
    changed = {issue: (b, c) for issue, b, c, _ in changed_issues(base, cand)}
    assert changed["K1"] == ("resolved at village (satisfied)", "open at department")
    assert "K2" not in changed
    # only issues of the catch-all rule that reached the village can change
    reached_village = {
        issue for issue, evs in base.lifecycle.items()
        if evs[0].data.rule == "default"  # type: ignore[attr-defined]
        and any(e.type == "issue.assigned" and e.data.level == "village"  # type: ignore[attr-defined]
                for e in evs)
    }
    assert set(changed) <= reached_village and len(changed) >= len(reached_village) // 2
    # and nothing else: every other issue's lifecycle is identical, event for event
    def same(e: Any) -> Any:
        body = e.model_dump(mode="json")
        body["data"].pop("rules_version", None)
        return body

    for issue in set(base.lifecycle) - reached_village:
        assert [same(e) for e in base.lifecycle[issue]] == [
            same(e) for e in cand.lifecycle[issue]], issue
    assert not any(k.startswith("grid->village") for k in cand.escalations
                   if "default" in k) and sum(
        1 for evs in cand.lifecycle.values() if evs[0].data.rule == "default"  # type: ignore[attr-defined]
        and any(e.type == "issue.assigned" and e.data.level == "village"  # type: ignore[attr-defined]
                for e in evs)) == 0


def test_replay_prints_the_comparison(month: list[Envelope], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in month) + "not json\n",
                    encoding="utf-8")
    code = main(["replay", "--rules", str(candidate(tmp_path)), "--baseline", str(SAMPLE),
                 "--events", str(path)])
    captured = capsys.readouterr()
    assert code == 0
    out = captured.out
    assert "report rate, all departments" in out and "local resolution rate" in out
    assert "issues whose outcome changes:" in out
    assert "  K1: resolved at village (satisfied) -> open at department" in out
    assert "invalid_json" in captured.err  # the bad line is reported, not fatal
    n_changed = int(out.split("issues whose outcome changes: ")[1].split("\n")[0])
    assert n_changed >= 1


def test_history_prints_an_issues_timeline_with_reasons(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    rules = load_ruleset(SAMPLE).ruleset
    assert rules is not None
    lifecycle = [e for d in run(rules, known(), lifecycle=True).lifecycle.values() for e in d]
    path = tmp_path / "lifecycle.jsonl"
    # redelivered events appear twice in a topic; the timeline shows them once
    path.write_text("".join(json.dumps(e.model_dump(mode="json")) + "\n"
                            for e in lifecycle + lifecycle[:2]), encoding="utf-8")
    assert main(["history", "K1", "--events", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("K1: ") and "times in Asia/Shanghai" in out[0]
    assert "assigned to grid yangjian-c01-g1" in out[1] and "(reason raised, rule default" in out[1]
    assert any("escalated grid -> village (reason whistle, rule default)" in line for line in out)
    assert "closed: resolved at village, satisfied" in out[-1]
