"""Operator tools against the real broker: replay from the events topic, history from the
lifecycle topic, publish with validation, tail."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.agents.clients import tail
from engine.cli import main
from tests.integration.conftest import LIVE_RULES, Lane

pytestmark = pytest.mark.integration


def test_replay_from_topic_and_history_from_the_lifecycle(
    lane: Lane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    good = ('{"specversion":"1.0","id":"o-1","source":"grid-app/t","type":"issue.raised",'
            '"subject":"O1","time":"2026-11-23T09:00:00+08:00","data":{"grid":"jinan-g1",'
            '"category":"noise","title":"t"}}\n')
    ack = good.replace('"o-1"', '"o-2"').replace('issue.raised', 'issue.acknowledged').replace(
        '"data":{"grid":"jinan-g1","category":"noise","title":"t"}', '"data":{"unit":"jinan-g1"}')
    events.write_text(good + "{broken\n" + ack, encoding="utf-8")
    worker = lane.worker("a")
    worker.wait_ready()
    lane.listen()
    base = ["--broker", lane.broker.url, "--topic-prefix", lane.prefix, "--rules", str(LIVE_RULES)]
    # publish validates first: one bad line, nothing sent
    assert main(["publish", str(events), *base]) == 1
    assert "invalid_json" in capsys.readouterr().err
    assert main(["publish", str(events), *base, "--skip-invalid"]) == 1  # sent, but said
    lane.wait_type("O1", "escalated", timeout=60)  # the 2026 event is long overdue: it climbs
    capsys.readouterr()
    assert main(["replay", "--rules", str(LIVE_RULES), "--from-topic", "--broker",
                 lane.broker.url, "--topic-prefix", lane.prefix]) == 0
    out = capsys.readouterr().out
    assert "replay: 2 events, 1 issues" in out
    assert main(["history", "O1", "--broker", lane.broker.url, "--topic-prefix",
                 lane.prefix]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("O1: ") and "assigned to grid jinan-g1" in lines[1]
    buf = io.StringIO()
    seen = tail({"bootstrap_servers": [lane.broker.url]}, [lane.topics.lifecycle],
                from_beginning=True, as_json=False, out=buf, limit=2, idle_ms=5000)
    assert seen == 2 and "issue.assigned O1" in buf.getvalue()
