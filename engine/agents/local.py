"""The table's local store, by kind: faust's memory store, or RocksDB (``WHISTLE_STORE``).

``IssueStore`` reads and writes through one small interface (``LocalStore``): get a key, put a
key in a partition, delete it, and iterate partitions. Two adapters:

- ``MemoryStore``: faust's memory store (a dict, plus faust's key -> partition record by which
  it drops revoked partitions' keys). Lost on every restart: a worker recovers the whole
  changelog. For the demo, tests and small pilots.
- ``RocksStore``: faust's RocksDB store through ``rocksdict`` (one DB per partition under
  ``WHISTLE_DATA_DIR``). Kept across restarts: faust recovers only the changelog after the
  offset the DB says it holds (its "persisted offset").

That offset must never run ahead of what the DB holds, and the DB must never hold a state that
is not on the changelog (a restart would then trust a state the next owner of the partition
never sees). So a RocksStore puts nothing in RocksDB when the processor writes: the writes wait
in memory, where reads see them, until ``delivered`` is told the batch's changelog records are
on the broker; then each partition gets one RocksDB write batch with its values, tombstones and
the partition's last delivered changelog offset, atomically. A crash in between loses only
what recovery reads back from the changelog.

Rejected: writing RocksDB first and the offset later (faust's own order for its table writes):
a crash between the two leaves states in the DB that were never delivered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from typing import Any, Protocol

from engine.agents.records import Record

FAUST_OFFSET_KEY = b"__faust\0offset__"  # faust's per-partition persisted offset (RocksDB)


class LocalStore(Protocol):
    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        """The value of ``key``; ``partition``, when given, is the one it can only be in (an
        issue's key is in the partition its events arrive on): the others are not searched."""
        ...

    def put(self, key: bytes, value: bytes, partition: int) -> None: ...

    def delete(self, key: bytes, partition: int | None = None) -> None: ...

    def items(self, partitions: Iterable[int] | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) held, or only those of ``partitions``."""
        ...

    def delivered(self, records: Sequence[Record], offsets: dict[int, int]) -> None:
        """The changelog ``records`` of a batch are on the broker, up to ``offsets``."""
        ...

    def keep(self, partitions: set[int]) -> None:
        """After a rebalance: what is not in ``partitions`` is no longer this worker's."""
        ...


class MemoryStore:
    def __init__(self, data: MutableMapping[bytes, bytes],
                 key_partition: MutableMapping[bytes, int] | None = None) -> None:
        self.data = data
        self.key_partition = key_partition if key_partition is not None else {}

    def __contains__(self, key: bytes) -> bool:
        return key in self.data

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        self.data[key] = value
        self.key_partition[key] = partition

    def delete(self, key: bytes, partition: int | None = None) -> None:
        self.data.pop(key, None)
        self.key_partition.pop(key, None)

    def items(self, partitions: Iterable[int] | None = None) -> Iterator[tuple[bytes, bytes]]:
        # the values carry their partition; the scan filters (faust drops revoked keys itself)
        return iter([(k, v) for k, v in self.data.items() if v is not None])

    def delivered(self, records: Sequence[Record], offsets: dict[int, int]) -> None:
        return None  # nothing to persist: the memory store is rebuilt from the changelog

    def keep(self, partitions: set[int]) -> None:
        return None


class RocksStore:
    def __init__(self, store: Any) -> None:
        self.store = store  # faust.stores.rocksdb.Store (driver rocksdict)
        self._pending: dict[bytes, tuple[int, bytes | None]] = {}

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        pending = self._pending.get(key)
        if pending is not None:
            return pending[1]
        db = self.store._dbs.get(partition) if partition is not None else None
        if db is not None:  # one lookup; faust's own searches every partition for a new key
            value = db.get(key)
            return None if value is None else bytes(value)
        found = self.store._get_bucket_for_key(key)
        return None if found is None else bytes(found[1])

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        self._pending[key] = (partition, value)

    def delete(self, key: bytes, partition: int | None = None) -> None:
        if partition is None:
            pending = self._pending.get(key)
            partition = pending[0] if pending is not None else self.store._key_index.get(key)
        if partition is None:
            found = self.store._get_bucket_for_key(key)
            if found is None:
                return
            partition = next(p for p, db in self.store._dbs.items() if db is found[0])
        self._pending[key] = (partition, None)

    def items(self, partitions: Iterable[int] | None = None) -> Iterator[tuple[bytes, bytes]]:
        wanted = set(self.store._dbs) if partitions is None else set(partitions)
        overlay = {k: v for k, (p, v) in self._pending.items() if p in wanted}
        for p in sorted(wanted):
            db = self.store._dbs.get(p)
            if db is None:
                continue
            for key, value in db.items():
                key = bytes(key)
                if key == FAUST_OFFSET_KEY or key in overlay:
                    continue
                yield key, bytes(value)
        for key, value in overlay.items():
            if value is not None:
                yield key, value

    def delivered(self, records: Sequence[Record], offsets: dict[int, int]) -> None:
        import rocksdict

        batches: dict[int, Any] = {}
        for r in records:
            if r.partition is None or r.key is None:
                continue
            batch = batches.get(r.partition)
            if batch is None:
                batch = batches[r.partition] = rocksdict.WriteBatch(raw_mode=True)
            if r.value is None:
                batch.delete(r.key)
                self.store._key_index.pop(r.key, None)
            else:
                batch.put(r.key, r.value)
                self.store._key_index[r.key] = r.partition
            pending = self._pending.get(r.key)
            if pending is not None and pending[1] is r.value:  # a later batch's stays pending
                del self._pending[r.key]
        for partition, batch in batches.items():
            if partition in offsets:
                batch.put(FAUST_OFFSET_KEY, str(offsets[partition]).encode())
            db = self.store._dbs.get(partition)
            if db is not None:  # else revoked meanwhile: the next owner recovers it
                db.write(batch)

    def keep(self, partitions: set[int]) -> None:
        self._pending = {k: v for k, v in self._pending.items() if v[0] in partitions}
