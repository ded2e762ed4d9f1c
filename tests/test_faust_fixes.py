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


# --- fix 5: the fetcher's race, run only when the callback suspends ----------------------------


def _service() -> Any:
    import asyncio

    faust_fixes.install()

    class Fetching(SimpleNamespace):  # what Service.wait_first reads of a started consumer
        wait_first = Consumer.wait_first

    return Fetching(_stopped=asyncio.Event(), _crashed=asyncio.Event(),
                    loop=asyncio.get_running_loop())


def test_a_callback_that_never_suspends_completes_without_a_task() -> None:
    import asyncio

    async def main() -> None:
        consumer = _service()
        flow = asyncio.Event()
        ran: list[str] = []

        async def callback() -> str:
            ran.append("callback")
            return "done"

        before = len(asyncio.all_tasks())
        tasks_seen: list[int] = []

        async def counting() -> str:
            tasks_seen.append(len(asyncio.all_tasks()))
            return await callback()

        result = await consumer.wait_first(counting(), flow.wait())
        assert ran == ["callback"] and result.results == ["done"] and not result.stopped
        assert tasks_seen == [before]  # run in the caller's task: no task was made for it

    asyncio.run(main())


def test_a_callback_that_suspends_is_resumed_and_its_result_returned() -> None:
    import asyncio

    async def main() -> None:
        consumer = _service()
        flow = asyncio.Event()
        gate = asyncio.get_running_loop().create_future()
        steps: list[str] = []

        async def callback() -> str:
            steps.append("before")
            await asyncio.sleep(0)  # a bare yield
            value = await gate  # a future
            steps.append(f"after {value}")
            return "done"

        asyncio.get_running_loop().call_later(0.01, gate.set_result, 7)
        result = await consumer.wait_first(callback(), flow.wait())
        assert steps == ["before", "after 7"]
        assert "done" in result.results and not result.stopped

    asyncio.run(main())


def test_a_suspended_callback_loses_the_race_to_a_flow_suspension_and_is_cancelled() -> None:
    import asyncio

    async def main() -> None:
        consumer = _service()
        flow = asyncio.Event()
        cancelled: list[bool] = []

        async def callback() -> None:
            try:
                await asyncio.get_running_loop().create_future()  # never resolved
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        asyncio.get_running_loop().call_later(0.01, flow.set)
        result = await consumer.wait_first(callback(), flow.wait())
        await asyncio.sleep(0)  # the loser's cancellation is delivered
        assert cancelled == [True] and len(result.done) == 1 and not result.stopped

    asyncio.run(main())


def test_an_error_in_the_callback_propagates_whether_or_not_it_suspended() -> None:
    import asyncio

    import pytest

    async def main() -> None:
        consumer = _service()

        async def at_once() -> None:
            raise ValueError("at once")

        async def later() -> None:
            await asyncio.sleep(0)
            raise ValueError("later")

        for coro, text in ((at_once(), "at once"), (later(), "later")):
            with pytest.raises(ValueError, match=text):
                await consumer.wait_first(coro, asyncio.Event().wait())

    asyncio.run(main())
