"""A fix to faust-streaming 0.15's commit bookkeeping that at-least-once delivery depends on.

``Consumer._committed_offset[tp]`` is the *next* offset to read (what Kafka stores as committed,
and ``batch[-1] + 1`` after each of faust's own commits). ``Consumer._new_offset`` looks for a
gap at the head of the acked offsets with ``min(acked) - committed > 1``: off by one, so when
the message *at* the committed offset is not acked yet but the ones after it are, faust commits
past it; and it skips the test altogether when the committed offset is 0. A message skipped that
way is never read again: when it is an ``issue.raised``, the issue's later facts are rejected as
``unknown_issue``. Messages are acked out of order when faust drops stale-generation messages
around a rebalance while later ones are acked (found by review, not yet caught in the act).

Here the head test is done right before faust's own logic runs: no commit while the message at
the committed offset is unacked. Installed always (``app.build_engine``).
"""

from __future__ import annotations

from typing import Any

_installed = False


def head_unacked(acked: list[int], committed: int | None) -> bool:
    """True when the message at the committed offset (the next to read) is not acked yet."""
    return bool(acked) and committed is not None and min(acked) > committed


def install() -> None:
    global _installed
    if _installed:
        return
    from faust.transport.consumer import Consumer

    original = Consumer._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        if not self._gap[tp] and head_unacked(self._acked[tp], self._committed_offset[tp]):
            return None
        result: int | None = original(self, tp)
        return result

    Consumer._new_offset = _new_offset  # type: ignore[method-assign]  # the fix
    _installed = True
