"""A batch is delivered whole or the worker stops; failures are counted, never skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NoReturn

import pytest

from engine.agents.delivery import Delivery
from engine.agents.metrics import Metrics
from engine.agents.processor import Record

RECORDS = [Record("whistle-issues-changelog", b"A", b"state", 0),
           Record("issues.lifecycle", b"A", b"event")]


class Broker:
    """A producer whose deliveries fail the first ``failures`` times a record is sent."""

    def __init__(self, failures: int, refuse: bool = False) -> None:
        self.failures = failures
        self.refuse = refuse
        self.delivered: list[Record] = []
        self.attempts = 0

    async def send(self, records: Sequence[Record]) -> list[Any]:
        futures = []
        for r in records:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self.failures > 0:
                self.failures -= 1
                if self.refuse:
                    await asyncio.gather(*futures, return_exceptions=True)
                    raise RuntimeError("producer closed")
                fut.set_exception(TimeoutError("no ack from the broker"))
            else:
                self.delivered.append(r)
                fut.set_result(None)
            futures.append(fut)
        return futures


class Stopped(Exception):
    pass


def fatal(reason: str) -> NoReturn:
    raise Stopped(reason)


async def no_sleep(_: float) -> None:
    return None


def deliver(broker: Broker, metrics: Metrics, attempts: int = 3) -> None:
    d = Delivery(broker.send, metrics, attempts=attempts, fatal=fatal, sleep=no_sleep)
    asyncio.run(d.deliver(RECORDS))


@pytest.mark.parametrize("refuse", [False, True])
def test_a_failed_delivery_is_counted_and_the_whole_batch_sent_again(refuse: bool) -> None:
    broker, metrics = Broker(failures=1, refuse=refuse), Metrics()
    deliver(broker, metrics)
    assert RECORDS[0] in broker.delivered and RECORDS[1] in broker.delivered
    assert metrics.registry.get_sample_value("whistle_delivery_failures_total") == 1


def test_a_batch_that_never_gets_through_stops_the_worker() -> None:
    broker, metrics = Broker(failures=100), Metrics()
    with pytest.raises(Stopped, match="not delivered after 3 attempts"):
        deliver(broker, metrics, attempts=3)
    assert metrics.registry.get_sample_value("whistle_delivery_failures_total") == 3


def test_a_delivered_batch_counts_no_failure() -> None:
    broker, metrics = Broker(failures=0), Metrics()
    deliver(broker, metrics)
    assert broker.delivered == RECORDS
    assert metrics.registry.get_sample_value("whistle_delivery_failures_total") == 0


def test_states_are_on_the_broker_before_any_event_is_sent() -> None:
    log: list[str] = []

    async def send(records: Sequence[Record]) -> list[Any]:
        futures = []
        for r in records:
            log.append(f"send {r.topic}")
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(
                0.01, lambda r=r, fut=fut: (log.append(f"acked {r.topic}"), fut.set_result(None)))
            futures.append(fut)
        return futures

    records = [Record("issues.lifecycle", b"A", b"e1"), Record("cl", b"A", b"s", 0),
               Record("issues.closed", b"A", b"e2"), Record("cl", b"\x00tick:0", b"t", 0)]
    asyncio.run(Delivery(send, Metrics(), fatal=fatal, sleep=no_sleep).deliver(records))
    first_event = log.index("send issues.lifecycle")
    assert log[:first_event] == ["send cl", "send cl", "acked cl", "acked cl"]
