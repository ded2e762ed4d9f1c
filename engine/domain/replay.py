"""Run a history of events through the core with a virtual clock.

The in-process model of the runtime: a table of issue states and a min-heap of deadlines. Before
each event at time t, every deadline due at or before t fires at its own due time, as the
runtime's ticks would make it. Used by golden replays, the benchmark and ``whistle replay``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.domain.decide import decide
from engine.domain.decision import Decision
from engine.domain.draft import utc
from engine.domain.events import DeadlineReached, Envelope
from engine.domain.ruleset import Ruleset
from engine.domain.state import IssueState

_JUST_BEFORE = timedelta(microseconds=1)


@dataclass
class Replayer:
    rules: Ruleset
    states: dict[str, IssueState] = field(default_factory=dict)
    heap: list[tuple[datetime, str, int]] = field(default_factory=list)
    clock: datetime | None = None

    def feed(self, event: Envelope) -> Iterator[Decision]:
        """Advance the clock to the event's time, then apply it. Yields every decision made."""
        # strictly before the fact, as decide() does: a fact exactly at a limit is on time
        yield from self.advance(utc(event.time) - _JUST_BEFORE)
        decision = decide(self.states.get(event.subject), event, self.rules, event.time)
        self._keep(event.subject, decision)
        yield decision

    def advance(self, until: datetime) -> Iterator[Decision]:
        """Fire every deadline due at or before ``until``, in due order."""
        until = utc(until)
        if self.clock is None or until > self.clock:
            self.clock = until
        heap = self.heap
        while heap and heap[0][0] <= until:
            due, issue_id, token = heapq.heappop(heap)
            state = self.states.get(issue_id)
            if state is None or not any(d.token == token and d.due == due for d in state.deadlines):
                continue  # stale: the issue moved on since this deadline was armed
            tick = DeadlineReached(issue_id=issue_id, due=due, token=token)
            decision = decide(state, tick, self.rules, due)
            self._keep(issue_id, decision)
            yield decision

    def run(self, events: Iterable[Envelope], until: datetime | None = None) -> Iterator[Decision]:
        for event in events:
            yield from self.feed(event)
        if until is not None:
            yield from self.advance(until)

    def _keep(self, issue_id: str, decision: Decision) -> None:
        state = decision.state
        if state is None:
            return
        previous = self.states.get(issue_id)
        self.states[issue_id] = state
        unchanged = previous is not None and previous.version == state.version
        if decision.result != "accepted" and unchanged:
            return
        version = state.version
        armed = {d.due for d in state.deadlines if d.token == version}  # armed by this decision
        for due in armed:
            heapq.heappush(self.heap, (due, issue_id, version))
