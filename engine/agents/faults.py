"""Test-only fault injection, switched on by environment variables (never set in production).

- ``WHISTLE_TEST_CRASH_AFTER_WRITE=ISSUE_ID``: the worker exits (code 70) right after the
  changelog record of that issue's state is delivered, before the batch's events are sent.
- ``WHISTLE_TEST_DELAY_SEND=SUFFIX:KEY=SECONDS``: the first record with key ``KEY`` produced to
  a topic whose name ends with ``SUFFIX`` waits ``SECONDS`` inside the Kafka producer's ``send``
  before it is
  appended to the producer's batch. That is the wait aiokafka really has when the partition's
  batch is full (``wait_drain``) or its metadata is being fetched, made long and certain, so a
  test can show what a commit does while a record is on its way
  (``tests/integration/test_durability.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("whistle.faults")


def crash_after_write() -> Callable[[str], bool] | None:
    target = os.environ.get("WHISTLE_TEST_CRASH_AFTER_WRITE")
    if not target:
        return None
    return lambda issue_id: issue_id == target


def install_send_delay() -> None:
    spec = os.environ.get("WHISTLE_TEST_DELAY_SEND")
    if not spec:
        return
    target, _, seconds = spec.rpartition("=")
    suffix, _, key = target.rpartition(":")
    delay = float(seconds)
    from aiokafka import AIOKafkaProducer

    original = AIOKafkaProducer.send
    done: set[str] = set()

    async def send(self: Any, topic: str, *args: Any, **kwargs: Any) -> Any:
        if topic.endswith(suffix) and kwargs.get("key") == key.encode() and not done:
            done.add(key)
            log.warning("test fault: delaying a send", topic=topic, seconds=delay)
            await asyncio.sleep(delay)
        return await original(self, topic, *args, **kwargs)

    AIOKafkaProducer.send = send  # test-only fault
