"""Issue states in the table's local store, read through a decode cache; versioned bytes.

The values are ``engine.agents.codec`` bytes (a format version, the partition, the state, and
the batch's outbox when one is needed). This class reads and writes the *local store* only (a
mapping): the shell sends the changelog records of a batch itself and waits for their delivery
(see ``processor.Batch`` and ``app``), so nothing here depends on faust's producer buffer.

Decoding a state costs tens of microseconds, so the last decoded value is cached beside the
bytes it came from; the cache is only trusted while the store still holds those bytes (after a
recovery it holds new ones). The memory store gives back the very object written; RocksDB a
copy, compared by content (a memcmp of a few KB, against tens of microseconds to decode). A
decoded state takes about twice the memory of its bytes, so the cache keeps the ``cache_size``
most recently used issues (``WHISTLE_STATE_CACHE``), not every open issue: the bytes stay the
one full copy.

A value that no upcaster can read is *quarantined*: it stays in the store and the changelog
untouched (for an operator, or a later version, to read), the issue's events are rejected with
reason ``state_quarantined``, and the rest of the partition goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.agents.codec import (
    Stored,
    Summary,
    UndecodableState,
    decode,
    encode,
    peek,
    summary_of,
)
from engine.agents.local import LocalStore, MemoryStore
from engine.domain.overdue import Unit
from engine.domain.state import IssueState

TICK_MARK = b"\x00tick:"  # keys of the per-partition record of the last ticks' issues
TICK_FORMAT_VERSION = 1
RETIRED_MARK = b"\x00retired:"  # keys of retired issues' markers (engine.agents.retention)
RETIRED_FORMAT_VERSION = 1


class Quarantined(Exception):
    def __init__(self, issue_id: str, reason: str) -> None:
        super().__init__(f"{issue_id}: {reason}")
        self.issue_id = issue_id
        self.reason = reason


@dataclass(frozen=True)
class TickRecord:
    """Which tick offsets of a partition the last batch with firing ticks applied, and the
    issues they changed: a redelivered tick among ``offsets`` re-sends those issues' events."""

    offsets: tuple[int, ...]
    issues: tuple[str, ...]

    def encode(self) -> bytes:
        return json.dumps({"v": TICK_FORMAT_VERSION, "offsets": list(self.offsets),
                           "issues": list(self.issues)}).encode()

    @staticmethod
    def decode(raw: bytes) -> TickRecord | None:
        """v1 ``{"v": 1, "offsets": [..], "issues": [..]}``; v0 (unversioned)
        ``{"offset": n, "issues": [..]}``. Anything else: None (no re-send is possible)."""
        try:
            data = json.loads(raw)
            if "v" not in data:  # v0: one tick per record
                return TickRecord((int(data["offset"]),), tuple(map(str, data["issues"])))
            if data["v"] == 1:
                return TickRecord(tuple(map(int, data["offsets"])),
                                  tuple(map(str, data["issues"])))
        except Exception:  # any unreadable record: nothing to re-send from it
            pass
        return None


def tick_key(partition: int) -> bytes:
    return TICK_MARK + str(partition).encode()


@dataclass(frozen=True)
class Retired:
    """What is left of an issue whose closed state retired: where and when (no personal data).

    v1 ``{"v": 1, "p": partition, "closed_at": ISO time, "retired_at": ISO time}``."""

    partition: int
    closed_at: datetime
    retired_at: datetime

    def encode(self) -> bytes:
        return json.dumps({"v": RETIRED_FORMAT_VERSION, "p": self.partition,
                           "closed_at": self.closed_at.isoformat(),
                           "retired_at": self.retired_at.isoformat()}).encode()

    @staticmethod
    def decode(raw: bytes) -> Retired | None:
        try:
            data = json.loads(raw)
            if data["v"] == 1:
                return Retired(int(data["p"]), datetime.fromisoformat(data["closed_at"]),
                               datetime.fromisoformat(data["retired_at"]))
        except Exception:  # an unreadable marker: the issue counts as never seen
            pass
        return None


def retired_key(issue_id: str) -> bytes:
    return RETIRED_MARK + issue_id.encode()


@dataclass
class Scan:
    """What one pass over the store found for some partitions: a summary of every issue (from
    its value's header, or from its state when the value has none) and the retired markers."""

    issues: dict[int, list[Summary]]
    retired: dict[int, list[tuple[str, Retired]]]


class IssueStore:
    def __init__(self, local: LocalStore | MutableMapping[bytes, bytes],
                 on_quarantine: Callable[[str, str], None] | None = None,
                 key_partition: MutableMapping[bytes, int] | None = None,
                 cache_size: int = 100_000) -> None:
        """``local``: the table's local store (``engine.agents.local``), or a plain mapping
        for a memory store, with ``key_partition``: faust's memory store's record of which
        partition each key is in, by which it drops the keys of revoked partitions."""
        self.local: LocalStore = (MemoryStore(local, key_partition)
                                  if isinstance(local, MutableMapping) else local)
        self.on_quarantine = on_quarantine
        self._cache: dict[str, tuple[bytes, Stored]] = {}  # in least recently used order
        self.cache_size = cache_size
        self._quarantined: dict[str, bytes] = {}

    def load(self, issue_id: str, partition: int | None = None) -> Stored | None:
        """The stored value of an issue (in ``partition``, when known); raises ``Quarantined``
        when it cannot be decoded."""
        raw = self.local.get(issue_id.encode(), partition)
        return None if raw is None else self.read(issue_id, raw)

    def read(self, issue_id: str, raw: bytes) -> Stored:
        """What ``raw``, the issue's value as the local store holds it, says, through the decode
        cache; raises ``Quarantined`` when it cannot be decoded."""
        cached = self._cache.pop(issue_id, None)
        if cached is not None and (cached[0] is raw or cached[0] == raw):
            self._cache[issue_id] = cached  # now the most recently used
            return cached[1]
        stored = self._decode(issue_id, raw)
        if stored is None:
            raise Quarantined(issue_id, "stored state cannot be decoded")
        self._remember(issue_id, raw, stored)
        return stored

    def _remember(self, issue_id: str, raw: bytes, stored: Stored) -> None:
        cache = self._cache
        cache.pop(issue_id, None)
        cache[issue_id] = (raw, stored)
        if len(cache) > self.cache_size:
            del cache[next(iter(cache))]

    def forget(self, partitions: set[int]) -> None:
        """After a rebalance: drop the decode cache (keys of revoked partitions are gone)."""
        self._cache.clear()
        self.local.keep(partitions)

    def get(self, issue_id: str, partition: int | None = None) -> IssueState | None:
        stored = self.load(issue_id, partition)
        return None if stored is None else stored.state

    def write(self, stored: Stored, outbox_json: Sequence[bytes] | None = None,
              overdue: tuple[Unit, ...] | None = None) -> tuple[bytes, bytes]:
        """Write to the local store; returns the (key, value) its changelog record must carry.
        ``outbox_json``, ``overdue``: the outbox's events already encoded and the state's open
        overdue limits already computed (``codec.encode``)."""
        key = stored.state.issue_id.encode()
        raw = encode(stored, outbox_json, overdue)
        self.local.put(key, raw, stored.partition)
        self._remember(stored.state.issue_id, raw, stored)
        return key, raw

    def delete(self, issue_id: str) -> bytes:
        """Remove an issue's state from the local store; returns the key to tombstone."""
        key = issue_id.encode()
        self.local.delete(key)
        self._cache.pop(issue_id, None)
        return key

    def retired(self, issue_id: str, partition: int | None = None) -> Retired | None:
        raw = self.local.get(retired_key(issue_id), partition)
        return None if raw is None else Retired.decode(raw)

    def write_retired(self, issue_id: str, marker: Retired) -> tuple[bytes, bytes]:
        key, raw = retired_key(issue_id), marker.encode()
        self.local.put(key, raw, marker.partition)
        return key, raw

    def forget_retired(self, issue_id: str) -> bytes:
        key = retired_key(issue_id)
        self.local.delete(key)
        return key

    def scan(self, partitions: Iterable[int]) -> Scan:
        """Every issue and retired marker stored for ``partitions``, in one pass over the store
        (after assignments only), reading only the values' headers where they have one.
        Undecodable values without a header are quarantined and skipped; one with a header is
        quarantined when its issue is next read."""
        wanted = set(partitions)
        found: dict[int, list[Summary]] = {p: [] for p in wanted}
        retired: dict[int, list[tuple[str, Retired]]] = {p: [] for p in wanted}
        for key, raw in list(self.local.items(wanted)):
            if raw is None or key.startswith(TICK_MARK):
                continue
            if key.startswith(RETIRED_MARK):
                marker = Retired.decode(raw)
                if marker is not None and marker.partition in wanted:
                    retired[marker.partition].append(
                        (key[len(RETIRED_MARK):].decode(errors="replace"), marker))
                continue
            issue_id = key.decode(errors="replace")
            summary = peek(issue_id, raw)
            if summary is None:
                stored = self._decode(issue_id, raw)
                if stored is None:
                    continue
                summary = summary_of(stored.partition, stored.state)
            if summary.partition in wanted:
                found[summary.partition].append(summary)
        return Scan(found, retired)

    def _decode(self, issue_id: str, raw: bytes) -> Stored | None:
        try:
            return decode(raw)
        except UndecodableState as e:
            if self._quarantined.get(issue_id) is not raw:  # report each value once
                self._quarantined[issue_id] = raw
                if self.on_quarantine is not None:
                    self.on_quarantine(issue_id, e.reason)
            return None

    def tick_record(self, partition: int) -> TickRecord | None:
        raw = self.local.get(tick_key(partition), partition)
        return None if raw is None else TickRecord.decode(raw)

    def write_tick_record(self, partition: int, record: TickRecord) -> tuple[bytes, bytes]:
        key, raw = tick_key(partition), record.encode()
        self.local.put(key, raw, partition)
        return key, raw
