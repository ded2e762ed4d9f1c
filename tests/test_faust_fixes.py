"""faust's commit bookkeeping never commits past an unacked message (engine/agents/faust_fixes)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from intervaltree import IntervalTree

from engine.agents import faust_fixes


def consumer(acked: list[int], committed: int | None) -> Any:
    return SimpleNamespace(_acked={"tp": list(acked)}, _acked_index={"tp": set(acked)},
                           _committed_offset=defaultdict(lambda: None, {"tp": committed}),
                           _gap=defaultdict(IntervalTree))


def new_offset(acked: list[int], committed: int | None) -> int | None:
    faust_fixes.install()
    result: int | None = Consumer._new_offset(consumer(acked, committed), "tp")
    return result


def test_the_message_at_the_committed_offset_unacked_holds_the_commit() -> None:
    assert new_offset([8, 9], committed=7) is None  # faust alone would commit 10, losing 7
    assert new_offset([1, 2], committed=0) is None  # and would not even look when it is 0


def test_acked_from_the_committed_offset_on_commits_up_to_the_first_gap() -> None:
    assert new_offset([7, 8, 9], committed=7) == 10
    assert new_offset([7, 8, 10], committed=7) == 9
    assert new_offset([0, 1], committed=0) == 2
    assert new_offset([3, 4], committed=None) == 5  # nothing committed yet: faust's own rule
