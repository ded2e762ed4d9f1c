"""What the issue agent does with each message: the shell around ``decide``.

Faust-free on purpose: the agent hands every message here with its topic, partition and offset,
and this class parses, decides, writes the table, sends, counts and logs. Tests drive it with a
dict as the table and a list as the sink; the Faust agent stays a loop.

Order of effects, for at-least-once delivery: the state is written first, then the decision's
events are sent. A crash in between loses nothing: the message comes again, the core sees a
duplicate and returns what it emitted the first time, and those events are sent again with the
same ids. For ticks the same holds through a per-partition record of the issues the last tick
changed (a tick is not an issue's event, so the core cannot recognise it by itself).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from engine.agents.index import DeadlineIndex
from engine.agents.metrics import Metrics
from engine.agents.store import IssueStore
from engine.domain.decide import decide
from engine.domain.decision import Decision
from engine.domain.events import DeadlineReached, IssueClosed
from engine.domain.parse import Accepted, Rejected, RejectedRecord, parse
from engine.domain.ruleset import Ruleset
from engine.domain.state import IssueState

log = structlog.get_logger("whistle.processor")


class Sink(Protocol):
    def send(self, topic: str, key: bytes | None, value: bytes) -> None: ...


@dataclass(frozen=True)
class Topics:
    events: str = "issues.events"
    lifecycle: str = "issues.lifecycle"
    closed: str = "issues.closed"
    rejected: str = "issues.rejected"
    ticks: str = "whistle.ticks"

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(**{k: f"{prefix}{v}" for k, v in cls().__dict__.items()})


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()
    timestamp: datetime | None = None


class IssueProcessor:
    def __init__(
        self,
        *,
        rules: Callable[[], Ruleset],
        store: IssueStore,
        sink: Sink,
        metrics: Metrics,
        topics: Topics | None = None,
        max_bytes: int = 65536,
        clock: Callable[[], datetime] | None = None,
        follow_rule_changes: bool = False,
    ) -> None:
        self.follow = follow_rule_changes
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rules = rules
        self.store = store
        self.sink = sink
        self.metrics = metrics
        self.topics = topics or Topics()
        self.max_bytes = max_bytes
        self.index = DeadlineIndex()

    # --- inbound events ---------------------------------------------------------------------

    def on_event(self, msg: Message, now: datetime) -> None:
        try:
            self._on_event(msg, now)
        except Exception:  # a running engine never dies on input: reject, log, go on
            log.exception("event failed", topic=msg.topic, partition=msg.partition,
                          offset=msg.offset)
            self._reject(msg, Rejected(reason="invalid_data", detail="internal error; see logs"))

    def _on_event(self, msg: Message, now: datetime) -> None:
        rules = self.rules()
        if msg.value is None:
            self._reject(msg, Rejected(reason="invalid_json", detail="empty message (null value)"))
            return
        parsed = parse(msg.value, msg.key, rules.registry.grids, max_bytes=self.max_bytes)
        if isinstance(parsed, Rejected):
            self._reject(msg, parsed)
            return
        assert isinstance(parsed, Accepted)
        event = parsed.event
        issue_id = event.subject
        state = self.store.get(issue_id)
        decision = decide(state, event, rules, now, follow=self.follow)
        if decision.result == "rejected":
            rejected = Rejected(reason="unknown_grid", detail=f"data.grid {decision.reason}")
            self._reject(msg, rejected, event.type)
            return
        if decision.state is None:  # a fact about an issue never raised: nothing to keep it in
            self._reject(msg, Rejected(reason="unknown_issue", detail=(
                f"{event.type} for an issue that was never raised (no issue.raised seen)")),
                event.type)
            return
        self.metrics.event(event.type, decision.result if decision.result != "unfit" else "stale")
        self._apply(msg.partition, state, decision, now)

    def _reject(self, msg: Message, rejected: Rejected, type_: str = "unknown") -> None:
        record = RejectedRecord.of(
            rejected, key=msg.key, value=msg.value, headers=msg.headers, topic=msg.topic,
            partition=msg.partition, offset=msg.offset, timestamp=msg.timestamp,
        )
        self.sink.send(self.topics.rejected, msg.key, record.model_dump_json().encode())
        self.metrics.reject(rejected.reason, type_)
        log.info("event rejected", reason=rejected.reason, detail=rejected.detail,
                 topic=msg.topic, partition=msg.partition, offset=msg.offset)

    # --- ticks ------------------------------------------------------------------------------

    def on_tick(self, partition: int, offset: int, now: datetime) -> None:
        """Fire the due deadlines of ``partition`` inside the stream, at tick time ``now``."""
        try:
            self._on_tick(partition, offset, now)
        except Exception:  # never die on a tick either; the next tick tries again
            log.exception("tick failed", partition=partition, offset=offset)
            self.index.drop(partition)

    def _on_tick(self, partition: int, offset: int, now: datetime) -> None:
        if not self.index.owns(partition):
            states = self._open_states(partition)
            count = self.index.rebuild(partition, states)
            self.metrics.open_set(partition, Counter(s.level for s in states if s.status == "open"))
            log.info("deadline index rebuilt", partition=partition, deadlines=count,
                     open_issues=len(states))
        record = self.store.tick_record(partition)
        if record is not None and record[0] == offset:
            self._resend(record[1])  # this tick was applied before a crash: send again
            return
        rules = self.rules()
        touched: list[str] = []
        for due, issue_id, token in self.index.pop_due(partition, now):
            state = self.store.get(issue_id)
            if state is None:
                continue
            tick = DeadlineReached(issue_id=issue_id, due=due, token=token)
            try:
                decision = decide(state, tick, rules, now, follow=self.follow)
            except Exception:
                log.exception("deadline failed", issue_id=issue_id)
                continue
            if decision.result != "accepted":
                continue
            touched.append(issue_id)
            self._apply(partition, state, decision, now)
            self.metrics.timer_lag.observe(max(0.0, (self.clock() - due).total_seconds()))
        if touched:
            self.store.set_tick_record(partition, offset, touched)

    def _resend(self, issue_ids: list[str]) -> None:
        for issue_id in issue_ids:
            state = self.store.get(issue_id)
            if state is not None and state.last_trigger.startswith("deadline:"):
                self._send(state.last_emitted)

    def _open_states(self, partition: int) -> list[IssueState]:
        return [s for s in self.store.on_partition(partition) if s.status != "closed"]

    def on_assigned(self, partitions: set[int]) -> None:
        """After a rebalance. The table may still be recovering here, so nothing is read now:
        each partition's index and open-issue counts are rebuilt from the table on its first
        tick, which the stream delivers only after recovery."""
        for p in self.index.partitions():
            self.index.drop(p)
        self.metrics.open_keep(partitions)

    # --- applying a decision ----------------------------------------------------------------

    def _apply(self, partition: int, before: Any, decision: Decision, now: datetime) -> None:
        state = decision.state
        changed = state is not None and state is not before
        if changed:
            self.store.put(partition, state)  # type: ignore[arg-type]  # changed: not None
        self._send(decision.emit)
        if decision.result == "duplicate":
            return
        self.metrics.apply(decision.counts)
        if state is not None:
            self.metrics.open_moved(
                partition,
                before.level if before is not None and before.status == "open" else None,
                state.level if state.status == "open" else None,
            )
            if state.version != getattr(before, "version", None):
                self.index.arm(partition, state)
            for warning in decision.warnings:
                log.warning("calendar data exhausted", issue_id=state.issue_id, detail=warning)
            if decision.result == "unfit":
                log.info("event did not fit", issue_id=state.issue_id, reason=decision.reason)

    def _send(self, events: Sequence[Any]) -> None:
        for e in events:
            body = e.model_dump_json().encode()
            key = e.subject.encode()
            self.sink.send(self.topics.lifecycle, key, body)
            if isinstance(e, IssueClosed):
                self.sink.send(self.topics.closed, key, body)
