"""Test-only fault injection, switched on by environment variables (never set in production).

- ``WHISTLE_TEST_CRASH_AFTER_WRITE=ISSUE_ID``: the worker exits (code 70) right after the
  changelog record of that issue's state is delivered, before the batch's events are sent.
- ``WHISTLE_TEST_DELAY_SEND=SUFFIX:KEY=SECONDS``: the first record batch holding a record with
  key ``KEY`` produced to a topic whose name ends with ``SUFFIX`` waits ``SECONDS`` on its way
  to the Kafka producer, before it is submitted (``engine.agents.sender``). That is the wait
  aiokafka really has when the partition's batch queue is full (``wait_drain``) or its metadata
  is being fetched, made long and certain, so a test can show what a commit does while a record
  is on its way
  (``tests/integration/test_durability.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog

log = structlog.get_logger("whistle.faults")


def crash_after_write() -> Callable[[str], bool] | None:
    target = os.environ.get("WHISTLE_TEST_CRASH_AFTER_WRITE")
    if not target:
        return None
    return lambda issue_id: issue_id == target


def send_delay() -> Callable[[str, Sequence[Any]], Awaitable[None]] | None:
    """The hook ``KafkaBatchSender`` awaits before it submits a topic-partition's batch."""
    spec = os.environ.get("WHISTLE_TEST_DELAY_SEND")
    if not spec:
        return None
    target, _, seconds = spec.rpartition("=")
    suffix, _, key = target.rpartition(":")
    delay = float(seconds)
    done: set[str] = set()

    async def before_submit(topic: str, records: Sequence[Any]) -> None:
        if (topic.endswith(suffix) and key not in done
                and any(r.key == key.encode() for r in records)):
            done.add(key)
            log.warning("test fault: delaying a send", topic=topic, seconds=delay)
            await asyncio.sleep(delay)

    return before_submit
