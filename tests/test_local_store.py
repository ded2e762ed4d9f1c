"""RocksStore: RocksDB holds only delivered batches, with the changelog offset they reached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rocksdict

from engine.agents.local import FAUST_OFFSET_KEY, RocksStore
from engine.agents.records import Record

CL = "w-issues-changelog"


class FaustRocks:
    """The parts of faust's rocksdb Store that RocksStore uses, over real rocksdict DBs."""

    def __init__(self, tmp: Path, partitions: int = 2) -> None:
        self._dbs = {p: rocksdict.Rdict(str(tmp / f"issues-{p}.db"),
                                        options=rocksdict.Options(raw_mode=True))
                     for p in range(partitions)}
        self._key_index: dict[bytes, int] = {}

    def _get_bucket_for_key(self, key: bytes) -> Any:
        for db in self._dbs.values():
            value = db.get(key)
            if value is not None:
                return db, value
        return None


def db(store: FaustRocks, p: int) -> dict[bytes, bytes]:
    return {bytes(k): bytes(v) for k, v in store._dbs[p].items()}


def test_writes_reach_rocksdb_only_when_delivered_and_a_later_batch_stays_pending(
    tmp_path: Path,
) -> None:
    faust = FaustRocks(tmp_path)
    local = RocksStore(faust)
    v1, v2 = b"state-1", b"state-2"
    local.put(b"A", v1, 0)
    first = [Record(CL, b"A", v1, 0)]
    local.put(b"A", v2, 0)  # the next batch, decided while the first is delivered
    second = [Record(CL, b"A", v2, 0)]
    assert db(faust, 0) == {} and local.get(b"A") == v2
    local.delivered(first, {0: 5})
    assert db(faust, 0) == {b"A": v1, FAUST_OFFSET_KEY: b"5"}
    assert local.get(b"A") == v2, "the undelivered batch's value is still what reads see"
    local.delivered(second, {0: 6})
    assert db(faust, 0) == {b"A": v2, FAUST_OFFSET_KEY: b"6"} and local.get(b"A") == v2


def test_a_delete_is_a_tombstone_in_rocksdb_once_delivered(tmp_path: Path) -> None:
    faust = FaustRocks(tmp_path)
    local = RocksStore(faust)
    local.put(b"B", b"s", 1)
    local.delivered([Record(CL, b"B", b"s", 1)], {1: 0})
    local.delete(b"B")
    assert local.get(b"B") is None and db(faust, 1)[b"B"] == b"s"
    local.delivered([Record(CL, b"B", None, 1)], {1: 1})
    assert db(faust, 1) == {FAUST_OFFSET_KEY: b"1"} and local.get(b"B") is None


def test_items_merge_the_pending_writes_and_skip_faust_offsets(tmp_path: Path) -> None:
    faust = FaustRocks(tmp_path)
    local = RocksStore(faust)
    local.put(b"A", b"a1", 0)
    local.delivered([Record(CL, b"A", b"a1", 0)], {0: 0})
    local.put(b"A", b"a2", 0)
    local.put(b"C", b"c1", 1)
    assert sorted(local.items()) == [(b"A", b"a2"), (b"C", b"c1")]
    assert list(local.items([1])) == [(b"C", b"c1")]
    local.keep({0})  # partition 1 revoked: its pending writes are not this worker's any more
    assert sorted(local.items()) == [(b"A", b"a2")]


def test_the_decode_cache_keeps_only_the_most_recently_used_states() -> None:
    from engine.agents.codec import Stored
    from engine.agents.store import IssueStore
    from engine.domain.decide import decide
    from tests.factories import T0, raised, ruleset

    rules = ruleset()
    store = IssueStore({}, cache_size=2)
    for issue in ("A", "B"):
        state = decide(None, raised(issue, T0), rules, T0).state
        assert state is not None
        store.write(Stored(partition=0, state=state))
    a = store.load("A")  # A is now the most recently used
    state_c = decide(None, raised("C", T0), rules, T0).state
    assert state_c is not None
    store.write(Stored(partition=0, state=state_c))  # B is evicted, A stays
    assert store.load("A") is a
    b = store.load("B")
    assert b is not None and b.state.issue_id == "B"  # decoded again from its bytes
    assert list(store._cache) == ["A", "B"]  # B came back, C (least recently used) went


def test_a_state_read_back_from_rocksdb_is_served_from_the_decode_cache(tmp_path: Path) -> None:
    from engine.agents.codec import Stored
    from engine.agents.store import IssueStore
    from engine.domain.decide import decide
    from tests.factories import T0, raised, ruleset

    faust = FaustRocks(tmp_path)
    store = IssueStore(RocksStore(faust))
    state = decide(None, raised("A", T0), ruleset(), T0).state
    assert state is not None
    key, raw = store.write(Stored(partition=0, state=state))
    store.local.delivered([Record(CL, key, raw, 0)], {0: 0})
    assert store.local.get(key) is not raw  # RocksDB gives back a copy
    first = store.load("A")
    assert first is not None and store.load("A") is first  # not decoded again
