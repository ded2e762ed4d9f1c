"""A fix to faust-streaming 0.15 that at-least-once delivery depends on; installed always.

Table writes go through faust's ``ProducerBuffer`` (``send_soon``), and before committing
offsets faust calls ``producer.flush()``, which drains that buffer with ``flush_atmost(None)``.
That loop gives up as soon as one message takes more than 0.1 s to leave the buffer, and the
commit goes ahead with table writes still unsent: a crash then loses state whose source offset
is already committed. The SIGKILL integration test caught exactly that (an acknowledgement lost,
the closure's sequence one short). Here ``flush_atmost(None)`` waits until the buffer is empty.
"""

from __future__ import annotations

import asyncio
from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from faust.transport import producer as module

    original = module.ProducerBuffer.flush_atmost

    async def flush_atmost(self: Any, max_messages: int | None) -> int:
        if max_messages is not None:  # the conductor's back-pressure: partial is fine there
            return int(await original(self, max_messages))
        flushed = 0
        while self.size:
            if self.state != "running":
                raise RuntimeError("Cannot flush: Producer not Running")
            self.message_sent.clear()
            try:
                await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)
                flushed += 1
            except TimeoutError:
                continue  # slow, not done: keep waiting (the original returned here)
        return flushed

    module.ProducerBuffer.flush_atmost = flush_atmost  # type: ignore[method-assign]  # the fix
    _installed = True
