"""What the issue agent does with a batch of messages: the shell around ``decide``.

Faust-free on purpose: the agent hands every message of a batch here with its topic, partition
and offset, then asks for the batch's records (``finish``) and delivers them; this class parses,
decides, stages the states, counts and logs. Tests drive it with a dict as the store.

The protocol (README, "Delivery"):

1. every message of the batch is decided, in order; an issue's later messages see its state as
   the batch left it;
2. ``finish`` writes each touched issue's state to the local store *once* and returns its
   changelog record, then the tick records, then the batch's events in the order decided;
3. the agent sends them all and waits until every one is delivered; only then are the batch's
   messages acked, so no offset is committed before the records it caused are on the broker.

A crash before step 3 ends re-delivers the batch. Messages whose states were not written are
decided again, with the same outbound ids (``ISSUE:VERSION:N``). Messages whose state *was*
written are duplicates to the core, which changes and emits nothing; so the stored value keeps
the batch's whole output for that issue (its *outbox*, with the trigger keys it answers), and a
redelivered trigger among those keys re-sends the outbox. For ticks the same holds through a
per-partition record of the tick offsets of the batch and the issues they changed (a tick is not
an issue's event, so the core cannot recognise it by itself).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from engine.agents.clock import Clock
from engine.agents.codec import Stored, summary_of
from engine.agents.index import DeadlineIndex
from engine.agents.metrics import Metrics
from engine.agents.records import Record
from engine.agents.retention import RetentionIndex
from engine.agents.store import IssueStore, Quarantined, Retired, TickRecord
from engine.agents.topics import Topics
from engine.domain.decide import decide, event_key
from engine.domain.decision import Decision
from engine.domain.events import LEDGER_TYPES, DeadlineReached, IssueClosed, OutboundEvent
from engine.domain.overdue import Unit, open_overdue
from engine.domain.parse import (
    MAX_DETAIL,
    Accepted,
    Rejected,
    RejectedRecord,
    RejectionReason,
    parse,
)
from engine.domain.ruleset import Ruleset
from engine.domain.state import IssueState

log = structlog.get_logger("whistle.processor")

__all__ = ["IssueProcessor", "Message", "Record", "Topics"]

# Decisions that turn an inbound event into a rejection: decision reason -> (rejection reason,
# detail). Everything else the core answers is counted under whistle_events_total{result}.
DECISION_REJECTIONS: dict[str, tuple[RejectionReason, str]] = {
    "unknown_grid": ("unknown_grid", "data.grid is not in the org registry"),
    "unknown_issue": ("unknown_issue",
                      "a fact for an issue that was never raised (no issue.raised seen)"),
    "claim_not_open": ("claim_not_open",
                       "the issue is closed, or resolved and awaiting its rating: it takes no "
                       "new claims"),
    "claim_held": ("claim_held", "data.claimant already holds a claim on this issue"),
    "claim_not_held": ("claim_not_held",
                       "data.claimant holds no claim on this issue (never claimed, released or "
                       "expired)"),
    "claim_limit": ("claim_limit",
                    "the issue already has as many claims as the rules allow (claims.max_active)"),
}
RESERVED = "\x00"  # store keys of the engine's own records (tick records) start with it
MAX_REJECTED_VALUE = 128 * 1024  # bytes of an original value copied into issues.rejected
QUARANTINED = "the issue's stored state cannot be decoded by this version; it is kept as is"
RETIRED = ("the issue closed and its state retired from the table after the retention window "
           "(WHISTLE_RETAIN_CLOSED)")


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()
    timestamp: datetime | None = None


@dataclass
class Batch:
    states: dict[str, tuple[int, IssueState]] = field(default_factory=dict)
    # the open overdue limits of each staged state (``open_overdue``: the gauge's "before" of
    # the issue's next decision in the batch, and the stored header's, computed once)
    overdue: dict[str, tuple[Unit, ...]] = field(default_factory=dict)
    triggers: dict[str, list[str]] = field(default_factory=dict)
    emitted: dict[str, list[OutboundEvent]] = field(default_factory=dict)
    outputs: list[Record] = field(default_factory=list)
    resent: set[str] = field(default_factory=set)
    # what this batch re-sent for an issue (and the keys those events answer): if the batch
    # also changes the issue, they stay in its outbox, or a second crash would lose them
    carried: dict[str, tuple[list[OutboundEvent], list[str]]] = field(default_factory=dict)
    # each sent event's JSON by id(event) (the events stay referenced by ``emitted``/``carried``
    # until ``finish``): the outbox splices these bytes instead of encoding the events again
    encoded: dict[int, bytes] = field(default_factory=dict)
    tick_offsets: dict[int, list[int]] = field(default_factory=dict)
    tick_issues: dict[int, list[str]] = field(default_factory=dict)
    tick_carried: dict[int, TickRecord] = field(default_factory=dict)
    # retirements: tombstones of retired states and forgotten markers, and the new markers
    retirements: list[Record] = field(default_factory=list)


class IssueProcessor:
    def __init__(
        self,
        *,
        rules: Callable[[], Ruleset],
        store: IssueStore,
        metrics: Metrics,
        clock: Clock,
        index: DeadlineIndex,
        topics: Topics,
        retention: RetentionIndex | None = None,
        changelog: str = "issues-changelog",
        max_bytes: int = 65536,
        follow_rule_changes: bool = False,
    ) -> None:
        self.follow = follow_rule_changes
        self.clock = clock
        self.rules = rules
        self.store = store
        self.metrics = metrics
        self.topics = topics
        self.changelog = changelog
        self.max_bytes = max_bytes
        self.index = index
        self.retention = retention or RetentionIndex()
        store.on_quarantine = self._quarantined
        self.assigned: set[int] = set()
        self.batch = Batch()
        self.consumed = 0  # inbound messages handled since start (``/debug/progress``)
        self._warned: set[str] = set()  # calendar warnings logged (``_calendar_warning``)

    # --- batches ----------------------------------------------------------------------------

    def finish(self) -> list[Record]:
        """End the batch: write each touched state once; the records to deliver, in order."""
        batch, self.batch = self.batch, Batch()
        self.metrics.flush()  # the batch's counts, each series once
        records: list[Record] = []
        for issue_id, (partition, state) in batch.states.items():
            emitted = batch.emitted.get(issue_id, [])
            keys = batch.triggers.get(issue_id, [])
            carried = batch.carried.get(issue_id)
            if carried is not None:
                emitted = carried[0] + emitted
                keys = carried[1] + keys
            # the outbox: what a redelivered trigger of this batch re-sends (none: no keys)
            stored = Stored(partition=partition, state=state, outbox=tuple(emitted),
                            keys=tuple(dict.fromkeys(keys)) if emitted else ())
            key, raw = self.store.write(stored, [batch.encoded[id(e)] for e in stored.outbox],
                                        batch.overdue.get(issue_id))
            records.append(Record(self.changelog, key, raw, partition))
        for partition, issues in batch.tick_issues.items():
            record = TickRecord(tuple(batch.tick_offsets[partition]), tuple(issues))
            old = batch.tick_carried.get(partition)
            if old is not None:  # a redelivered tick re-sent these: keep them answerable
                record = TickRecord(tuple(dict.fromkeys(old.offsets + record.offsets)),
                                    tuple(dict.fromkeys(old.issues + record.issues)))
            key, raw = self.store.write_tick_record(partition, record)
            records.append(Record(self.changelog, key, raw, partition))
        return records + batch.retirements + batch.outputs

    def _quarantined(self, issue_id: str, reason: str) -> None:
        self.metrics.state_quarantined.inc()
        log.error("stored state quarantined", issue_id=issue_id, reason=reason)

    def _state(self, issue_id: str, partition: int) -> IssueState | None:
        staged = self.batch.states.get(issue_id)
        return staged[1] if staged is not None else self.store.get(issue_id, partition)

    # --- inbound events ---------------------------------------------------------------------

    def on_event(self, msg: Message, now: datetime) -> None:
        self.consumed += 1
        try:
            self._on_event(msg, now)
        except Quarantined as q:
            self._reject(msg, Rejected(reason="state_quarantined", detail=QUARANTINED))
            log.warning("event for a quarantined state rejected", issue_id=q.issue_id)
        except Exception:  # a running engine never dies on input: reject, log, go on
            log.exception("event failed", topic=msg.topic, partition=msg.partition,
                          offset=msg.offset)
            self._reject(msg, Rejected(reason="invalid_data", detail="internal error; see logs"))

    def _on_event(self, msg: Message, now: datetime) -> None:
        rules = self.rules()
        if msg.value is None:
            self._reject(msg, Rejected(reason="invalid_json", detail="empty message (null value)"))
            return
        if msg.key is None:  # unkeyed: it may land on any partition, away from its issue's state
            self._reject(msg, Rejected(reason="subject_key_mismatch", detail=(
                "the record has no key: events must be keyed by their subject (the issue id)")))
            return
        parsed = parse(msg.value, msg.key, rules.registry.grids, max_bytes=self.max_bytes)
        if isinstance(parsed, Rejected):
            self._reject(msg, parsed)
            return
        assert isinstance(parsed, Accepted)
        event = parsed.event
        issue_id = event.subject
        if issue_id.startswith(RESERVED):
            self._reject(msg, Rejected(reason="invalid_data", detail=(
                "subject may not start with a NUL character (reserved for the engine's keys)")),
                event.type)
            return
        state = self._state(issue_id, msg.partition)
        if state is None and self.store.retired(issue_id, msg.partition) is not None:
            # never decided: a re-sent issue.raised must not raise a retired issue again
            self._reject(msg, Rejected(reason="retired_issue", detail=RETIRED), event.type)
            return
        decision = decide(state, event, rules, now, follow=self.follow)
        rejection = DECISION_REJECTIONS.get(decision.reason) if decision.state is None else None
        if rejection is not None or decision.state is None:
            reason, detail = rejection or ("invalid_data", decision.reason)
            self._reject(msg, Rejected(reason=reason, detail=detail), event.type)
            return
        self.metrics.event(event.type, decision.result)
        key = event_key(event)
        if decision.result == "duplicate":
            self._resend_duplicate(issue_id, key)
            return
        self._apply(msg.partition, state, decision, key, now)

    def _resend_duplicate(self, issue_id: str, key: str) -> None:
        if issue_id in self.batch.resent:
            return
        stored = self.store.load(issue_id)
        if stored is not None and key in stored.keys:
            self._resend(issue_id, list(stored.outbox), list(stored.keys))

    def _resend(self, issue_id: str, events: list[OutboundEvent], keys: list[str]) -> None:
        self.batch.resent.add(issue_id)
        self.batch.carried[issue_id] = (events, keys)
        self._send(events)

    def _reject(self, msg: Message, rejected: Rejected, type_: str = "unknown") -> None:
        value = msg.value
        if value is not None and len(value) > MAX_REJECTED_VALUE:
            # a copy too big to produce would stop the worker on every retry; the whole record
            # stays on the input topic at the topic, partition and offset given here
            rejected = Rejected(reason=rejected.reason, detail=(
                f"{rejected.detail} [value cut to its first {MAX_REJECTED_VALUE} of "
                f"{len(value)} bytes, sha256 {hashlib.sha256(value).hexdigest()}]"
            )[-MAX_DETAIL:])
            value = value[:MAX_REJECTED_VALUE]
        record = RejectedRecord.of(
            rejected, key=msg.key, value=value, headers=msg.headers, topic=msg.topic,
            partition=msg.partition, offset=msg.offset, timestamp=msg.timestamp,
        )
        self.batch.outputs.append(
            Record(self.topics.rejected, msg.key, record.model_dump_json().encode()))
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
            self._rebuild({partition} | {p for p in self.assigned if not self.index.owns(p)}, now)
        record = self.store.tick_record(partition)
        if record is not None and offset in record.offsets:
            self.batch.tick_carried[partition] = record
            self._resend_ticks(record.issues)  # applied before a crash: send again
            return
        rules = self.rules()
        for due, issue_id, token in self.index.pop_due(partition, now):
            try:
                state = self._state(issue_id, partition)
            except Quarantined:
                continue
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
            self.batch.tick_offsets.setdefault(partition, [])
            issues = self.batch.tick_issues.setdefault(partition, [])
            if issue_id not in issues:
                issues.append(issue_id)
            self._apply(partition, state, decision, event_key(tick), now)
            self.metrics.timer_lag.observe(max(0.0, (self.clock.now() - due).total_seconds()))
        if partition in self.batch.tick_offsets:
            self.batch.tick_offsets[partition].append(offset)
        self._retire(partition, now)

    def _retire(self, partition: int, now: datetime) -> None:
        """Retire the closed issues whose window has passed; forget old retired markers.
        Idempotent: each due entry is checked against the table first (a redelivered tick, or
        a stale heap entry, finds nothing left to do)."""
        retire, forget = self.retention.due(partition, now)
        out = self.batch.retirements
        for issue_id in retire:
            try:
                state = self._state(issue_id, partition)
            except Quarantined:
                continue
            if state is None or state.status != "closed" or state.closed_at is None:
                continue
            self.batch.states.pop(issue_id, None)  # a state staged by this batch goes too
            self.batch.overdue.pop(issue_id, None)
            out.append(Record(self.changelog, self.store.delete(issue_id), None, partition))
            key, raw = self.store.write_retired(issue_id, Retired(partition, state.closed_at, now))
            out.append(Record(self.changelog, key, raw, partition))
            self.retention.retired(partition, issue_id, now)
            self.metrics.held_moved(partition, "closed", "retired")
        for issue_id in forget:
            found = self.store.retired(issue_id, partition)
            if found is None or found.retired_at + self.retention.remember > now:
                continue
            out.append(Record(self.changelog, self.store.forget_retired(issue_id), None,
                              partition))
            self.metrics.held_moved(partition, "retired", None)

    def _resend_ticks(self, issue_ids: Sequence[str]) -> None:
        for issue_id in issue_ids:
            if issue_id in self.batch.resent:
                continue
            try:
                stored = self.store.load(issue_id)
            except Quarantined:
                continue
            if stored is None:
                continue
            if stored.outbox:
                self._resend(issue_id, list(stored.outbox), list(stored.keys))

    def _rebuild(self, partitions: set[int], now: datetime) -> None:
        """One scan of the store for every partition whose index is missing."""
        scan = self.store.scan(partitions)
        found = scan.issues
        staged = {i: summary_of(p, s) for i, (p, s) in self.batch.states.items()
                  if p in partitions}
        if staged:  # this batch's states are not in the store yet: theirs are the latest
            for p in found:
                found[p] = [s for s in found[p] if s.issue_id not in staged]
            for s in staged.values():
                found[s.partition].append(s)
        for p, issues in found.items():
            count = self.index.rebuild(p, [(s.due, s.issue_id, s.token) for s in issues
                                           if s.due is not None and s.token is not None
                                           and s.status != "closed"])
            self.metrics.open_set(p, Counter(s.level for s in issues if s.status == "open"))
            self.metrics.overdue_set(p, (s.overdue for s in issues if s.status != "closed"))
            self.metrics.parked_set(p, Counter(s.parked for s in issues if s.parked))
            closed = [(s.issue_id, s.closed_at) for s in issues if s.closed_at is not None]
            retired = [(i, m.retired_at) for i, m in scan.retired[p]]
            self.retention.rebuild(p, closed, retired, now)
            held = Counter[str](s.status for s in issues)
            held["retired"] = len(retired)
            self.metrics.held_set(p, held)
            log.info("deadline index rebuilt", partition=p, woken_issues=count,
                     open_issues=sum(s.status != "closed" for s in issues), issues=len(issues),
                     closed=len(closed), retired=len(retired))

    def on_assigned(self, partitions: set[int]) -> None:
        """After a rebalance. The table may still be recovering here, so nothing is read now:
        the indexes and open-issue counts are rebuilt from the table on the first tick, which
        the stream delivers only after recovery (one scan for all the owned partitions)."""
        self.assigned = set(partitions)
        self.store.forget(self.assigned)
        for p in self.index.partitions():  # all: faust recovers kept partitions again too
            self.index.drop(p)
        for p in self.retention.partitions():
            self.retention.drop(p)
        self.metrics.open_keep(partitions)

    # --- applying a decision ----------------------------------------------------------------

    def _apply(self, partition: int, before: Any, decision: Decision, key: str,
               now: datetime) -> None:
        state = decision.state
        assert state is not None
        issue_id = state.issue_id
        staged = self.batch.states.get(issue_id)
        overdue_before = (self.batch.overdue[issue_id]
                          if staged is not None and staged[1] is before else open_overdue(before))
        overdue_after = overdue_before
        if state is not before:
            self.batch.overdue[issue_id] = overdue_after = open_overdue(state)
            self.batch.states[issue_id] = (partition, state)
            self.batch.triggers.setdefault(issue_id, []).append(key)
            self.batch.emitted.setdefault(issue_id, []).extend(decision.emit)  # type: ignore[arg-type]  # the core emits only OutboundEvent members
        self._send(decision.emit)
        self.metrics.apply(decision.counts)
        self.metrics.decided(partition, before, state, decision.emit,
                             (overdue_before, overdue_after))
        self.metrics.open_moved(
            partition,
            before.level if before is not None and before.status == "open" else None,
            state.level if state.status == "open" else None,
        )
        parked = getattr(before, "parked", None)
        if parked is not None or state.parked is not None:
            self.metrics.parked_moved(partition, parked.unit if parked else None,
                                      state.parked.unit if state.parked else None)
        was = before.status if before is not None else None
        if state.status != was:
            self.metrics.held_moved(partition, was, state.status)
            if state.status == "closed" and state.closed_at is not None:
                self.retention.closed(partition, issue_id, state.closed_at, now)
        if state.version != getattr(before, "version", None):
            self.index.arm(partition, state)
        for warning in decision.warnings:
            self._calendar_warning(issue_id, warning)
        if decision.result == "unfit":
            log.debug("event did not fit", issue_id=issue_id, reason=decision.reason)

    def _calendar_warning(self, issue_id: str, warning: str) -> None:
        """A deadline past its calendar's known holiday data: counted every time, logged once
        per calendar and years past the data (the text after the deadline's own words). Late in
        a year nearly every decision has one: logging each flooded the log with the same
        sentence and cost the stream CPU."""
        self.metrics.beyond_data.inc()
        head, _, note = warning.partition("; ")
        key = f"{head.split(':', 1)[0]}; {note}"
        if key in self._warned:
            return
        if len(self._warned) < 1024:  # calendars x years: small; bounded all the same
            self._warned.add(key)
        log.warning("calendar data exhausted", issue_id=issue_id, detail=warning,
                    once=("logged once per calendar and years past its data; "
                          "whistle_deadlines_beyond_data_total counts every deadline"))

    def _send(self, events: Sequence[Any]) -> None:
        out = self.batch.outputs
        encoded = self.batch.encoded
        for e in events:
            body = encoded[id(e)] = e.__pydantic_serializer__.to_json(e)
            key = e.subject.encode()
            if e.type in LEDGER_TYPES:  # points.awarded / points.reversed: the ledger only
                out.append(Record(self.topics.points, key, body))
                continue
            out.append(Record(self.topics.lifecycle, key, body))
            if isinstance(e, IssueClosed):
                out.append(Record(self.topics.closed, key, body))
