"""Issue states in the Faust table: encoded as JSON bytes, decoded once and cached.

The table value carries the partition the issue lives on, so the deadline index of a partition
can be rebuilt from the table alone after an assignment. Decoding a state costs tens of
microseconds, so the last decoded state is cached beside the bytes it came from; the cache is
only trusted while the table still holds those very bytes (after a recovery it holds new ones).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping

from pydantic import BaseModel, ConfigDict

from engine.domain.state import IssueState

TICK_MARK = b"\x00tick:"  # table keys of the per-partition record of the last tick's issues


class Stored(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    p: int
    s: IssueState


class IssueStore:
    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self.table = table
        self._cache: dict[str, tuple[bytes, IssueState]] = {}

    def get(self, issue_id: str) -> IssueState | None:
        raw = self.table.get(issue_id.encode())
        if raw is None:
            return None
        cached = self._cache.get(issue_id)
        if cached is not None and cached[0] is raw:
            return cached[1]
        state = Stored.model_validate_json(raw).s
        self._cache[issue_id] = (raw, state)
        return state

    def put(self, partition: int, state: IssueState) -> None:
        raw = Stored(p=partition, s=state).model_dump_json().encode()
        self.table[state.issue_id.encode()] = raw
        self._cache[state.issue_id] = (raw, state)

    def on_partition(self, partition: int) -> Iterator[IssueState]:
        """Every issue state stored for ``partition`` (a full scan: after assignments only)."""
        for key, raw in list(self.table.items()):
            if key.startswith(TICK_MARK) or raw is None:
                continue
            stored = Stored.model_validate_json(raw)
            if stored.p == partition:
                self._cache[stored.s.issue_id] = (raw, stored.s)
                yield stored.s

    def tick_record(self, partition: int) -> tuple[int, list[str]] | None:
        raw = self.table.get(TICK_MARK + str(partition).encode())
        if raw is None:
            return None
        data = json.loads(raw)
        return int(data["offset"]), list(data["issues"])

    def set_tick_record(self, partition: int, offset: int, issues: list[str]) -> None:
        self.table[TICK_MARK + str(partition).encode()] = json.dumps(
            {"offset": offset, "issues": issues}
        ).encode()

