"""Why the shell does not trust faust's flush: the mechanism of the lost state, without a broker.

faust-streaming's ``ProducerBuffer`` (table writes) reports empty as soon as its sender task has
taken a record off the queue, while the record is still being handed to the Kafka producer
(which waits for real when the partition's batch is full or its metadata is being fetched).
``producer.flush()`` before a commit therefore returns with that record not sent. This test pins
the behaviour of the faust version we run; if faust fixes it, this test fails and says so (the
shell does not depend on it either way: it sends and awaits its own changelog records).
The same window, end to end with a broker and a SIGKILL: tests/integration/test_durability.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.transport.producer import ProducerBuffer


def test_faust_buffer_flush_returns_while_a_taken_record_is_still_being_sent() -> None:
    async def scenario() -> tuple[bool, int]:
        buffer: Any = ProducerBuffer()
        buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
        await buffer.start()
        handed_over = asyncio.Event()

        async def publish_message(fut: Any, wait: bool = False) -> None:
            await asyncio.sleep(0.3)  # the producer's send waiting for a full batch to drain
            handed_over.set()

        channel = SimpleNamespace(publish_message=publish_message)
        buffer.put(SimpleNamespace(message=SimpleNamespace(channel=channel)))
        await asyncio.sleep(0.01)  # the sender task takes the record off the queue
        await buffer.flush()  # what faust awaits before committing offsets
        sent_at_flush = handed_over.is_set()
        size = buffer.size
        await handed_over.wait()
        await buffer.stop()
        return sent_at_flush, size

    sent_at_flush, size = asyncio.run(scenario())
    assert size == 0 and not sent_at_flush, "faust's flush now waits for in-flight records"
