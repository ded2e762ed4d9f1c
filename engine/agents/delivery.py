"""Deliver a batch's records and wait until the broker has every one of them: states, then events.

``send`` hands records to the Kafka producer and returns their delivery futures
(``KafkaBatchSender``: one aiokafka record batch per topic-partition, each future resolving when
the broker acknowledged all of it, ``acks=-1`` by faust's default). A batch is delivered when
every future has resolved. A failure is never skipped: it is counted
(``whistle_delivery_failures_total``) and the *whole* batch is sent again (records that made it
are sent twice with the same keys and outbound ids: consumers drop duplicates by id, and the
changelog keeps the last value of a key), up to ``attempts`` times; then the worker stops with
the error, the batch's messages unacked, so its offsets are never committed and the next owner
of the partitions decides them again.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

import structlog

from engine.agents.metrics import Metrics
from engine.agents.records import Record

log = structlog.get_logger("whistle.delivery")

# records -> their delivery futures; if it raises, what it submitted has been waited for
Send = Callable[[Sequence[Record]], Awaitable[Sequence[Awaitable[Any]]]]


class DeliveryFailed(RuntimeError):
    pass


def stop_worker(reason: str) -> NoReturn:
    """Stop at once, without faust's graceful stop (which commits acked offsets and may wait
    on the very broker that failed): the unacked batch is decided again by the next owner."""
    print(f"whistle: stopping: {reason}", file=sys.stderr, flush=True)
    import os

    os._exit(75)  # EX_TEMPFAIL: a supervisor should start the worker again


class Delivery:
    def __init__(self, send: Send, metrics: Metrics, attempts: int = 5, backoff: float = 0.5,
                 fatal: Callable[[str], NoReturn] = stop_worker,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.send = send
        self.metrics = metrics
        self.attempts = attempts
        self.backoff = backoff
        self.fatal = fatal
        self.sleep = sleep

    async def deliver(self, records: Sequence[Record]) -> list[Any]:
        """States first (the changelog and tick records, ``partition`` set), then the events:
        an event is never on the broker without the state that produced it, so after a crash
        a redelivered message is a duplicate whose events are re-sent verbatim, never decided
        a second time (which, with other rules or another order of ticks, could differ).
        Returns what the sends of the states resolved to (``Landed`` from the Kafka sender)."""
        states = [r for r in records if r.partition is not None]
        events = [r for r in records if r.partition is None]
        t0 = time.monotonic()
        landed = await self._deliver(states)
        await self._deliver(events)
        if records:
            self.metrics.batch_seconds.observe(time.monotonic() - t0)
        return landed

    async def _deliver(self, records: Sequence[Record]) -> list[Any]:
        if not records:
            return []
        error = None
        for attempt in range(1, self.attempts + 1):
            error, results = await self._once(records)
            if error is None:
                return results
            self.metrics.delivery_failures.inc()
            log.error("batch delivery failed", attempt=attempt, attempts=self.attempts,
                      records=len(records), error=error)
            if attempt < self.attempts:
                await self.sleep(self.backoff * 2 ** (attempt - 1))
        self.fatal(f"a batch of {len(records)} records was not delivered after "
                   f"{self.attempts} attempts ({error}); its offsets are not committed")

    async def _once(self, records: Sequence[Record]) -> tuple[str | None, list[Any]]:
        try:
            futures = await self.send(records)
        except Exception as e:  # the producer refused a record (the rest were waited for)
            return repr(e), []
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            return (f"{len(failed)} of {len(results)} sends of {len(records)} records failed, "
                    f"first: {failed[0]!r}"), []
        return None, results
