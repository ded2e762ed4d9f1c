"""When closed issues retire from the table, and when the engine forgets they ever were.

A closed issue's state is kept for ``retain`` (``WHISTLE_RETAIN_CLOSED``, 7 days by default)
after it closed: long enough that a redelivered or late fact finds it (a redelivery re-sends the
events it produced; a late fact is counted as unfit). Then its key gets a tombstone in the
changelog, and a small *retired marker* (``\\x00retired:<issue id>``: the partition, when it
closed, when it retired) takes its place for ``remember`` (``WHISTLE_REMEMBER_RETIRED``, 90
days), so that a fact for it is rejected as ``retired_issue``, not ``unknown_issue``, and a
re-sent ``issue.raised`` cannot raise it again. After that the marker gets its tombstone too.

The due times are counted from the issue's own ``closed_at`` but never fall sooner than
``grace`` (10 minutes, or ``retain`` if that is shorter) after this worker decided the closure
or rebuilt the partition's index: after a crash, the uncommitted messages come again first, and
an issue closed by one of them must still be there to re-send its events, however old its
``closed_at`` (a backlog being caught up).

Like ``DeadlineIndex``, these heaps are disposable: rebuilt from the table by the scan that
follows an assignment, and every due entry is checked against the table before it acts.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime, timedelta

DEFAULT_RETAIN = timedelta(days=7)
DEFAULT_REMEMBER = timedelta(days=90)
GRACE = timedelta(minutes=10)


class RetentionIndex:
    def __init__(self, retain: timedelta = DEFAULT_RETAIN,
                 remember: timedelta = DEFAULT_REMEMBER) -> None:
        self.retain = retain
        self.remember = remember
        self.grace = min(GRACE, retain)
        self._closed: dict[int, list[tuple[datetime, str]]] = {}
        self._retired: dict[int, list[tuple[datetime, str]]] = {}

    def owns(self, partition: int) -> bool:
        return partition in self._closed

    def rebuild(self, partition: int, closed: Iterable[tuple[str, datetime]],
                retired: Iterable[tuple[str, datetime]], now: datetime) -> None:
        """``closed``: (issue id, closed_at); ``retired``: (issue id, retired_at)."""
        floor = now + self.grace
        heap = [(max(at + self.retain, floor), issue_id) for issue_id, at in closed]
        heapq.heapify(heap)
        self._closed[partition] = heap
        markers = [(at + self.remember, issue_id) for issue_id, at in retired]
        heapq.heapify(markers)
        self._retired[partition] = markers

    def drop(self, partition: int) -> None:
        self._closed.pop(partition, None)
        self._retired.pop(partition, None)

    def partitions(self) -> list[int]:
        return list(self._closed)

    def closed(self, partition: int, issue_id: str, closed_at: datetime, now: datetime) -> None:
        heap = self._closed.get(partition)
        if heap is not None:  # else the rebuild will find it in the table
            heapq.heappush(heap, (max(closed_at + self.retain, now + self.grace), issue_id))

    def retired(self, partition: int, issue_id: str, retired_at: datetime) -> None:
        heap = self._retired.get(partition)
        if heap is not None:
            heapq.heappush(heap, (retired_at + self.remember, issue_id))

    def due(self, partition: int, now: datetime) -> tuple[list[str], list[str]]:
        """Issues whose state should retire now, and retired markers to forget now."""
        return _pop(self._closed.get(partition), now), _pop(self._retired.get(partition), now)

    def size(self) -> tuple[int, int]:
        return (sum(len(h) for h in self._closed.values()),
                sum(len(h) for h in self._retired.values()))


def _pop(heap: list[tuple[datetime, str]] | None, now: datetime) -> list[str]:
    out: list[str] = []
    while heap and heap[0][0] <= now:
        out.append(heapq.heappop(heap)[1])
    return out
