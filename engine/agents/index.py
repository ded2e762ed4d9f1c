"""Which deadlines are due, per partition: a disposable min-heap rebuilt from the table.

The table holds the truth (each issue's deadlines and their tokens); this index only finds the
due ones in O(due) per tick instead of scanning every open issue. It is rebuilt on the first tick
after a partition is assigned, and entries that went stale (the issue moved on) are dropped when
popped: the core would answer them as stale anyway.

One entry per issue: its earliest deadline. The decision it wakes fires every deadline of the
issue that is due by then, and the state it leaves is armed again with its own earliest one, so
the later deadlines need no entries of their own (an entry is ~120 bytes, and an open issue
has four or more deadlines and warnings).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine.domain.state import IssueState

Entry = tuple[datetime, str, int]  # due, issue id, token


class DeadlineIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[Entry]] = {}

    def owns(self, partition: int) -> bool:
        return partition in self._heaps

    def rebuild(self, partition: int, entries: Iterable[Entry]) -> int:
        """The partition's heap from each open issue's earliest deadline (due, id, token)."""
        heap = list(entries)
        heapq.heapify(heap)
        self._heaps[partition] = heap
        return len(heap)

    def partitions(self) -> list[int]:
        return list(self._heaps)

    def drop(self, partition: int) -> None:
        self._heaps.pop(partition, None)

    def arm(self, partition: int, state: IssueState) -> None:
        """After a decision changed the state: wake it at its earliest deadline."""
        heap = self._heaps.get(partition)
        if heap is None:
            return  # not rebuilt yet: the rebuild will read this state from the table
        entry = _earliest(state)
        if entry is not None:
            heapq.heappush(heap, entry)

    def pop_due(self, partition: int, now: datetime) -> list[Entry]:
        heap = self._heaps.get(partition)
        due: list[Entry] = []
        while heap and heap[0][0] <= now:
            due.append(heapq.heappop(heap))
        return due

    def size(self, partition: int | None = None) -> int:
        if partition is not None:
            return len(self._heaps.get(partition, ()))
        return sum(len(h) for h in self._heaps.values())


def _earliest(state: IssueState) -> Entry | None:
    if not state.deadlines:
        return None
    d = min(state.deadlines, key=_due)
    return (d.due, state.issue_id, d.token)


def _due(d: Any) -> datetime:
    return d.due  # type: ignore[no-any-return]
