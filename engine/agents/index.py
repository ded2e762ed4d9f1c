"""Which deadlines are due, per partition: a disposable min-heap rebuilt from the table.

The table holds the truth (each issue's deadlines and their tokens); this index only finds the
due ones in O(due) per tick instead of scanning every open issue. It is rebuilt on the first tick
after a partition is assigned, and entries that went stale (the issue moved on) are dropped when
popped: the core would answer them as stale anyway.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime

from engine.domain.state import IssueState

Entry = tuple[datetime, str, int]  # due, issue id, token


class DeadlineIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[Entry]] = {}

    def owns(self, partition: int) -> bool:
        return partition in self._heaps

    def rebuild(self, partition: int, states: Iterable[IssueState]) -> int:
        heap = [(d.due, s.issue_id, d.token) for s in states for d in s.deadlines]
        heapq.heapify(heap)
        self._heaps[partition] = heap
        return len(heap)

    def partitions(self) -> list[int]:
        return list(self._heaps)

    def drop(self, partition: int) -> None:
        self._heaps.pop(partition, None)

    def arm(self, partition: int, state: IssueState) -> None:
        """Add the deadlines armed by the state's latest decision."""
        heap = self._heaps.get(partition)
        if heap is None:
            return  # not rebuilt yet: the rebuild will read this state from the table
        for d in state.deadlines:
            if d.token == state.version:
                heapq.heappush(heap, (d.due, state.issue_id, d.token))

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
