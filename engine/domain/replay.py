"""Run a history of events through the core with a virtual clock.

The in-process model of the runtime: a table of issue states and a min-heap of deadlines. Before
each event at time t, every deadline due at or before t fires at its own due time, as the
runtime's ticks would make it. Used by golden replays, the benchmark and ``whistle replay``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.domain.decide import decide
from engine.domain.decision import Decision
from engine.domain.draft import utc
from engine.domain.events import DeadlineReached, Envelope
from engine.domain.fast import make
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
        at = event.time if event.time.tzinfo is UTC else event.time.astimezone(UTC)
        # strictly before the fact, as decide() does: a fact exactly at a limit is on time
        until = at - _JUST_BEFORE
        heap = self.heap
        if heap and heap[0][0] <= until:
            yield from self.advance(until)
        elif self.clock is None or until > self.clock:
            self.clock = until
        # (``now`` is the event's time, in UTC already: decide need not convert it again)
        decision = decide(self.states.get(event.subject), event, self.rules, at)
        self._keep(event.subject, decision)
        yield decision

    def advance(self, until: datetime) -> Iterator[Decision]:
        """Fire every deadline due at or before ``until``, in due order."""
        until = utc(until)
        if self.clock is None or until > self.clock:
            self.clock = until
        heap, states, rules = self.heap, self.states, self.rules
        while heap and heap[0][0] <= until:
            due, issue_id, token = heapq.heappop(heap)
            state = states.get(issue_id)
            if state is None:
                continue
            for d in state.deadlines:
                if d.token == token and d.due == due:
                    break
            else:
                continue  # stale: the issue moved on since this deadline was armed
            tick = make(DeadlineReached, {"issue_id": issue_id, "due": due, "token": token})
            decision = decide(state, tick, rules, due)
            self._keep(issue_id, decision)
            yield decision

    def run(self, events: Iterable[Envelope], until: datetime | None = None) -> Iterator[Decision]:
        # ``feed`` for every event, unrolled: a decision then passes one generator, not two
        # (and ``_keep`` too)
        heap, states, rules, push = self.heap, self.states, self.rules, heapq.heappush
        for event in events:
            at = event.time
            if at.tzinfo is not UTC:
                at = at.astimezone(UTC)
            before = at - _JUST_BEFORE
            if heap and heap[0][0] <= before:
                yield from self.advance(before)
            elif self.clock is None or before > self.clock:
                self.clock = before
            issue_id = event.subject
            previous = states.get(issue_id)
            decision = decide(previous, event, rules, at)
            state = decision.state
            if state is not None:
                states[issue_id] = state
                version = state.version
                if decision.result == "accepted" or previous is None or (
                        previous.version != version):
                    armed: list[datetime] = []
                    for d in state.deadlines:
                        if d.token == version and d.due not in armed:
                            armed.append(d.due)
                            push(heap, (d.due, issue_id, version))
            yield decision
        if until is not None:
            yield from self.advance(until)

    def _keep(self, issue_id: str, decision: Decision) -> None:
        state = decision.state
        if state is None:
            return
        previous = self.states.get(issue_id)
        self.states[issue_id] = state
        version = state.version
        if decision.result != "accepted" and previous is not None and previous.version == version:
            return
        armed: list[datetime] = []  # the due times armed by this decision, each once
        for d in state.deadlines:
            if d.token == version and d.due not in armed:
                armed.append(d.due)
                heapq.heappush(self.heap, (d.due, issue_id, version))
