"""The RocksDB store on a real broker: what the local DB holds is always a prefix of the
changelog with the offset it says; a restart that keeps the data dir recovers only the tail
(nothing, when the worker was idle); one that loses it recovers the whole changelog; both end
with the table the worker had."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from engine.agents.local import FAUST_OFFSET_KEY
from tests.integration.conftest import Lane

pytestmark = pytest.mark.integration

ROCKS = {"WHISTLE_STORE": "rocksdb"}


def publish(lane: Lane, n: int, prefix: str) -> None:
    for i in range(n):
        lane.send("raised", f"{prefix}{i:03d}", grid=f"jinan-g{1 + i % 2}", category="noise",
                  title="t")


def assigned(lane: Lane) -> int:
    return len({e["subject"] for e in lane.out["lifecycle"] if e["type"] == "issue.assigned"})


def local_dbs(data_dir: Path) -> dict[int, dict[bytes, bytes]]:
    """Every partition DB under a worker's data dir, read-only: {partition: {key: value}}."""
    import rocksdict

    found: dict[int, dict[bytes, bytes]] = {}
    for path in sorted(data_dir.rglob("issues-*.db")):
        partition = int(path.name.removesuffix(".db").rsplit("-", 1)[1])
        db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True),
                             access_type=rocksdict.AccessType.read_only())
        try:
            found[partition] = {bytes(k): bytes(v) for k, v in db.items()}
        finally:
            db.close()
    return found


def changelog(lane: Lane) -> dict[int, list[tuple[int, bytes, bytes | None]]]:
    from engine.streams.kafka import read

    out: dict[int, list[tuple[int, bytes, bytes | None]]] = {}
    for r in read({"bootstrap_servers": [lane.broker.url]}, [f"{lane.app_id}-issues-changelog"],
                  idle_seconds=2.0):
        assert r.key is not None
        out.setdefault(r.partition, []).append((r.offset, r.key, r.value))
    return out


def folded(records: list[tuple[int, bytes, bytes | None]], upto: int) -> dict[bytes, bytes]:
    table: dict[bytes, Any] = {}
    for offset, key, value in records:
        if offset <= upto:
            table[key] = value
    return {k: v for k, v in table.items() if v is not None}


def assert_prefix_of_changelog(lane: Lane, data_dir: Path) -> dict[int, int]:
    """Each partition DB equals the changelog folded up to the offset the DB records."""
    log = changelog(lane)
    offsets = {}
    for partition, content in local_dbs(data_dir).items():
        offset = int(content.pop(FAUST_OFFSET_KEY, b"-1"))
        offsets[partition] = offset
        assert content == folded(log.get(partition, []), offset), partition
    return offsets


def test_a_restart_with_the_data_dir_recovers_only_the_tail_and_one_without_all(
    lane: Lane,
) -> None:
    w = lane.worker("a", env=ROCKS)
    w.wait_ready()
    lane.listen()
    publish(lane, 60, "K")
    lane.wait(lambda: assigned(lane) >= 60, why="60 assignments")
    time.sleep(1.5)  # the last batch's records delivered and written to the DBs
    before = w.state()
    assert before["issues"] == 60
    assert w.kill(signal.SIGKILL) != 0
    data = lane.tmp / "data-a"
    offsets = assert_prefix_of_changelog(lane, data)
    log = changelog(lane)
    # the worker was idle: the DBs hold the whole changelog, the tail to recover is empty
    assert offsets == {p: records[-1][0] for p, records in log.items()}

    again = lane.worker("a", env=ROCKS)  # the same data dir
    again.wait_ready()
    state = lane.wait(lambda: (lambda s: s if s["issues"] >= 60 else None)(again.state()),
                      timeout=30, why="the kept table")
    assert (state["issues"], state["digest"]) == (before["issues"], before["digest"])
    lane.send("acknowledged", "K000", unit="jinan-g1")
    lane.wait_type("K000", "assigned", count=1)
    assert again.kill(signal.SIGTERM) == 0

    lost = lane.worker("c", env=ROCKS)  # a new data dir: the whole changelog is recovered
    lost.wait_ready()
    state = lane.wait(lambda: (lambda s: s if s["issues"] >= 60 else None)(lost.state()),
                      timeout=30, why="the recovered table")
    assert state["issues"] == 60
    assert not [r for r in lane.out["rejected"] if r["reason"] == "unknown_issue"]


def test_a_sigkill_mid_stream_leaves_the_db_a_prefix_of_the_changelog(lane: Lane) -> None:
    w = lane.worker("a", env=ROCKS)
    w.wait_ready()
    lane.listen()
    publish(lane, 150, "M")
    lane.wait(lambda: assigned(lane) >= 20, why="the stream under way")
    assert w.kill(signal.SIGKILL) != 0
    assert_prefix_of_changelog(lane, lane.tmp / "data-a")
    again = lane.worker("a", env=ROCKS)
    again.wait_ready()
    lane.wait(lambda: assigned(lane) >= 150, timeout=90, why="all 150 assigned after restart")
    for i in range(0, 150, 25):
        lane.send("withdrawn", f"M{i:03d}", reason="done")
    lane.wait(lambda: len({e["subject"] for e in lane.out["closed"]}) >= 6, why="6 closures")
    assert not [r for r in lane.out["rejected"] if r["reason"] == "unknown_issue"]
