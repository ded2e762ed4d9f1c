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


# --- fix 6: with every partition buffered, the fetcher waits for a drain, not a second ---------


def _fetching(active: set[Any], buffered: set[Any]) -> Any:
    import asyncio

    faust_fixes.install()

    class Fetching(SimpleNamespace):  # what _wait_next_records and on_buffer_drop read
        wait_first = Consumer.wait_first
        wait = Consumer.wait
        wait_for_stopped = Consumer.wait_for_stopped
        _wait_one = Consumer._wait_one
        _wait_next_records = Consumer._wait_next_records
        on_buffer_drop = Consumer.on_buffer_drop
        _get_active_partitions = Consumer._get_active_partitions

    fetched: list[set[Any]] = []

    async def getmany(active_partitions: set[Any], timeout: float) -> dict[Any, list[str]]:
        fetched.append(set(active_partitions))
        return {tp: ["record"] for tp in active_partitions}

    return Fetching(_stopped=asyncio.Event(), _crashed=asyncio.Event(),
                    loop=asyncio.get_running_loop(), flow_active=True,
                    not_waiting_next_records=asyncio.Event(),
                    app=SimpleNamespace(client_only=False), _active_partitions=set(active),
                    _paused_partitions=set(), _buffered_partitions=set(buffered),
                    _getmany=getmany, fetched=fetched)


async def _turns(n: int = 20) -> None:
    import asyncio

    for _ in range(n):
        await asyncio.sleep(0)


def test_all_partitions_buffered_the_fetcher_resumes_at_the_first_drain() -> None:
    import asyncio

    from faust.types import TP

    async def main() -> None:
        tps = {TP("issues.events", p) for p in range(4)}
        consumer = _fetching(active=set(), buffered=tps)
        waiting = asyncio.ensure_future(consumer._wait_next_records(1.0))
        await _turns()
        assert not waiting.done()  # nothing active: it waits (faust slept a whole second here)
        consumer.on_buffer_drop(TP("issues.events", 2))
        await _turns()
        assert waiting.done()  # woken by the drain, long before its one-second bound
        records, active = waiting.result()
        assert records == {} and active == {TP("issues.events", 2)}
        # the next call fetches the drained partition
        records, active = await consumer._wait_next_records(1.0)
        assert consumer.fetched == [{TP("issues.events", 2)}]
        assert records == {TP("issues.events", 2): ["record"]}

    asyncio.run(main())


def test_a_drain_before_the_wait_does_not_cut_a_later_wait_short() -> None:
    import asyncio

    from faust.types import TP

    async def main() -> None:
        tp = TP("issues.events", 0)
        consumer = _fetching(active=set(), buffered={tp})
        consumer.on_buffer_drop(tp)  # drained, then buffered again before the fetcher looks
        consumer._active_partitions.discard(tp)
        consumer._buffered_partitions.add(tp)
        waiting = asyncio.ensure_future(consumer._wait_next_records(1.0))
        await _turns()
        assert not waiting.done()
        consumer._stopped.set()  # the consumer stops: the wait ends with nothing fetched
        await _turns()
        assert waiting.done() and waiting.result() == ({}, set())

    asyncio.run(main())


def test_with_a_partition_active_the_fetcher_fetches_as_faust_does() -> None:
    import asyncio

    from faust.types import TP

    async def main() -> None:
        tp = TP("whistle.ticks", 1)
        consumer = _fetching(active={tp}, buffered={TP("issues.events", 1)})
        records, active = await consumer._wait_next_records(1.0)
        assert records == {tp: ["record"]} and active == {tp}
        assert consumer.fetched == [{tp}]

    asyncio.run(main())
