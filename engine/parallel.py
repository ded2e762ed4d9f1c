"""``whistle replay`` on every core: issues partitioned by id across worker processes.

Issues are independent of each other in the core: an issue's decisions depend only on its own
events and on its own deadlines, which fire at their due times whatever else happens. So a
replay splits into partitions by a stable hash of the issue id (``zlib.crc32`` of the UTF-8
subject, never Python's salted ``hash()``); each worker replays its partition with its own
virtual clock, and the merged outcome is the one a single process computes: counts add up,
per-issue results are disjoint, the figures combine (``engine.report.figures.combine``), and
everything the report lists it sorts itself.

The work, and who does it:

- The parent reads the raw lines and routes each to its partition *without parsing it*: the
  subject is found by a byte search when the line has exactly one ``"subject"`` and no
  backslash at all (then no escape can disguise a key or a value, and the bytes between the
  quotes are the subject's UTF-8), else by ``json.loads``. A line without a string subject
  cannot be accepted by ``parse()``, so where it goes changes nothing but who reports it.
- A worker takes each line's time the same cheap way (falling back to a full parse), keeps the
  raw line, sorts its lines by (time, input position) — the order of a stable sort of all
  events by time — and only then parses the lines, a batch at a time, and feeds them to the
  candidate's and the baseline's replayers. So parsing (a real share of the cost) is spread
  over the workers, a parsed event lives only while its batch is fed, and a worker holds about
  450 bytes per pending line instead of a parsed event's 2 KB. Every parsed event is checked
  against the time it was sorted by and the partition it was routed to: a mismatch stops the
  replay.
- The default ``until`` is the last accepted event's time plus ``HORIZON``, over all
  partitions: each worker reports its last time once its lines are fed, the parent answers
  with the common ``until``, and the workers run their clocks to it.

A worker's error comes back as its traceback in a ``WorkerError``; a worker that dies without
a word (killed, out of memory) is noticed through its process sentinel. Neither can hang the
parent.
"""

from __future__ import annotations

import gc
import heapq
import json
import multiprocessing
import os
import re
import time
import traceback
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from operator import itemgetter
from typing import Any, NamedTuple

from engine.domain.events import Envelope
from engine.domain.parse import Rejected, parse
from engine.domain.replay import Replayer
from engine.domain.ruleset import Ruleset
from engine.report.figures import combine
from engine.whatif import HORIZON, Outcome, Tally

Line = tuple[int, bytes]  # (position in the input, used to order and to name it; the raw line)

CHUNK = 1024  # lines per message to a worker
BATCH = 256  # lines a worker parses before it feeds them
REJECTIONS_KEPT = 20  # the first rejected lines (in input order) a replay returns

_SUBJECT = re.compile(rb'"subject"\s*:\s*"([^"]*)"')
_TIME = re.compile(
    rb'"time"\s*:\s*"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)(Z|[+-]\d\d:\d\d)"', re.ASCII
)


class WorkerError(RuntimeError):
    """A worker of a parallel replay failed; the message carries its traceback."""


def partition(subject: str, count: int) -> int:
    """The partition of an issue: stable across processes, runs and machines."""
    return zlib.crc32(subject.encode("utf-8", "surrogatepass")) % count


def route(raw: bytes, position: int, count: int) -> int:
    """The partition of a raw line's issue, without parsing the line if it can be helped."""
    if b"\\" not in raw and raw.count(b'"subject"') == 1:
        m = _SUBJECT.search(raw)
        if m is not None:
            return zlib.crc32(m.group(1)) % count
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        obj = None
    subject = obj.get("subject") if isinstance(obj, dict) else None
    if isinstance(subject, str):
        return partition(subject, count)
    return position % count  # parse() will reject it: any worker may say so


def time_key(raw: bytes) -> datetime | None:
    """The line's event time in UTC, found without parsing; None when not sure."""
    if b"\\" in raw or raw.count(b'"time"') != 1:
        return None
    m = _TIME.search(raw)
    if m is None:
        return None
    offset = m.group(2)
    try:
        moment = datetime.fromisoformat(
            (m.group(1) + (b"+00:00" if offset == b"Z" else offset)).decode("ascii"))
    except ValueError:
        return None
    return moment.astimezone(UTC)


class Fed(NamedTuple):
    """A partition once its lines are fed: what the parent needs before the clocks run on."""

    events: int  # accepted
    last: datetime | None  # the latest accepted event's time, in UTC
    rejected: list[tuple[int, str]]  # the first REJECTIONS_KEPT, by position
    rejected_count: int


class Partition:
    """One partition's replay; driven in a worker process (or in this one, for tests)."""

    def __init__(self, index: int, count: int, candidate: Ruleset,
                 baseline: Ruleset | None = None) -> None:
        self.index, self.count = index, count
        self.grids = candidate.registry.grids  # lines are parsed against the candidate's grids
        self.sides = [(rules, Replayer(rules), Tally()) for rules in
                      ([candidate] if baseline is None else [candidate, baseline])]
        self.seconds = [0.0] * len(self.sides)
        self.pending: list[tuple[datetime, int, bytes | Envelope]] = []
        self.events = 0
        self.last: datetime | None = None
        self._rejected: list[tuple[int, str]] = []  # a max-heap by position (negated)
        self.rejected_count = 0

    def add(self, lines: Iterable[Line]) -> None:
        pending = self.pending
        for position, raw in lines:
            key = time_key(raw)
            if key is not None:
                pending.append((key, position, raw))
                continue
            parsed = parse(raw, None, self.grids)
            if isinstance(parsed, Rejected):
                self._reject(position, parsed)
            else:
                event = parsed.event
                pending.append((event.time.astimezone(UTC), position, event))

    def feed(self) -> Fed:
        """Parse and replay every line in time order (input order among equal times).

        A batch of lines is parsed, then fed: parsing and deciding in turns, event by event,
        measured about 15% slower (each evicts the other's working set from the caches)."""
        pending = self.pending
        pending.sort(key=itemgetter(0, 1), reverse=True)  # popped from the end: memory shrinks
        sides, seconds, clock = self.sides, self.seconds, time.perf_counter
        while pending:
            batch: list[Envelope] = []
            for _ in range(min(BATCH, len(pending))):
                key, position, payload = pending.pop()
                if isinstance(payload, bytes):
                    parsed = parse(payload, None, self.grids)
                    if isinstance(parsed, Rejected):
                        self._reject(position, parsed)
                        continue
                    event: Envelope = parsed.event
                    # (in UTC: comparing times in two zones costs more than converting one)
                    if event.time.astimezone(UTC) != key:
                        raise RuntimeError(f"input {position}: sorted by {key.isoformat()}, "
                                           f"but its time is {event.time.isoformat()}")
                else:
                    event = payload
                if partition(event.subject, self.count) != self.index:
                    raise RuntimeError(f"input {position}: issue {event.subject!r} routed to "
                                       f"partition {self.index} of {self.count}, not its own")
                batch.append(event)
                self.last = key  # the lines come in time order
            self.events += len(batch)
            for k, (_, replayer, tally) in enumerate(sides):
                t0 = clock()
                for event in batch:
                    for decision in replayer.feed(event):
                        tally.add(decision)
                seconds[k] += clock() - t0
        self.pending = []
        first = sorted((-negated, text) for negated, text in self._rejected)
        return Fed(self.events, self.last, first, self.rejected_count)

    def finish(self, until: datetime | None) -> list[Outcome]:
        """Run the clocks on to ``until``: the outcome of each side (candidate first)."""
        outcomes = []
        for k, (rules, replayer, tally) in enumerate(self.sides):
            t0 = time.perf_counter()
            if until is not None:
                for decision in replayer.advance(until):
                    tally.add(decision)
            self.seconds[k] += time.perf_counter() - t0
            outcomes.append(tally.outcome(rules, replayer.states, self.events, self.seconds[k]))
        return outcomes

    def _reject(self, position: int, rejected: Rejected) -> None:
        self.rejected_count += 1
        entry = (-position, f"{rejected.reason}: {rejected.detail}")
        if len(self._rejected) < REJECTIONS_KEPT:
            heapq.heappush(self._rejected, entry)
        elif entry > self._rejected[0]:
            heapq.heapreplace(self._rejected, entry)


@dataclass
class Replay:
    candidate: Outcome
    baseline: Outcome | None
    rejected: list[tuple[int, str]] = field(default_factory=list)  # first ones, by position
    rejected_count: int = 0
    workers: int = 1
    seconds: float = 0.0  # wall time, routing and parsing included
    cpu: list[float] = field(default_factory=list)  # CPU seconds of each worker process


def replay(lines: Iterable[Line], candidate: Ruleset, baseline: Ruleset | None = None, *,
           until: datetime | None = None, workers: int = 2, processes: bool = True) -> Replay:
    """Replay raw inbound lines under ``candidate`` (and ``baseline``) on ``workers`` partitions.

    ``lines`` are (position, raw JSON) pairs; positions are unique and give the input order
    (ties in time keep it) and the names of rejected lines. With ``processes`` each partition
    runs in a worker process; without, one after another in this one (the same routing and
    merging, for tests). The outcomes equal ``whatif.run`` over the parsed, time-sorted events,
    but for ``seconds``: here the slowest partition's replay time.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    t0 = time.perf_counter()
    d: _InProcess | _Processes = (_Processes if processes else _InProcess)(
        workers, candidate, baseline)
    with d:
        fed = d.feed(lines)
        last = max((f.last for f in fed if f.last is not None), default=None)
        if until is None and last is not None:
            until = last + HORIZON
        sides = d.finish(until)
    cand = merge(candidate, [s[0] for s in sides])
    base = merge(baseline, [s[1] for s in sides]) if baseline is not None else None
    rejected = heapq.nsmallest(REJECTIONS_KEPT, (r for f in fed for r in f.rejected))
    return Replay(cand, base, rejected, sum(f.rejected_count for f in fed), workers,
                  time.perf_counter() - t0, d.cpu)


def merge(rules: Ruleset, parts: Sequence[Outcome]) -> Outcome:
    """The outcome of the union of partitions of the issues (disjoint by construction)."""
    out = Outcome(rules=rules, events=sum(p.events for p in parts),
                  decisions=sum(p.decisions for p in parts),
                  seconds=max((p.seconds for p in parts), default=0.0))
    for p in parts:
        if out.final.keys() & p.final.keys():
            raise RuntimeError("an issue is in two partitions")
        out.final.update(p.final)
        out.signatures.update(p.signatures)
        out.escalations.update(p.escalations)
        out.breaches.update(p.breaches)
    figures = [p.figures for p in parts if p.figures is not None]
    if figures:
        out.figures = combine(figures, departments=rules.registry.departments,
                              streets=rules.registry.streets)
    return out


def _routed(lines: Iterable[Line], count: int) -> Iterator[tuple[int, list[Line]]]:
    """Chunks of lines by partition: (partition, lines), each partition's in input order."""
    buffers: list[list[Line]] = [[] for _ in range(count)]
    for position, raw in lines:
        k = route(raw, position, count) if count > 1 else 0
        buf = buffers[k]
        buf.append((position, raw))
        if len(buf) >= CHUNK:
            yield k, buf
            buffers[k] = []
    for k, buf in enumerate(buffers):
        if buf:
            yield k, buf


class _InProcess:
    def __init__(self, count: int, candidate: Ruleset, baseline: Ruleset | None) -> None:
        self.parts = [Partition(k, count, candidate, baseline) for k in range(count)]
        self.cpu: list[float] = []  # not measured: the partitions share this process

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.parts = []

    def feed(self, lines: Iterable[Line]) -> list[Fed]:
        for k, chunk in _routed(lines, len(self.parts)):
            self.parts[k].add(chunk)
        return [p.feed() for p in self.parts]

    def finish(self, until: datetime | None) -> list[list[Outcome]]:
        return [p.finish(until) for p in self.parts]


@dataclass
class _Worker:
    index: int
    process: Any  # multiprocessing's process of the start method's context
    inbox: Connection  # parent -> worker
    outbox: Connection  # worker -> parent


class _Processes:
    """One worker process per partition; two one-way pipes each.

    Each worker's pipes are made just before it starts and the parent closes the worker's ends
    at once, so no later worker (forked) holds them: a worker's death closes its inbox (the
    parent's send fails) and its outbox (the parent reads EOF).
    """

    def __init__(self, count: int, candidate: Ruleset, baseline: Ruleset | None) -> None:
        self.count, self.candidate, self.baseline = count, candidate, baseline
        self.workers: list[_Worker] = []
        self.cpu: list[float] = []

    def __enter__(self) -> _Processes:
        ctx = multiprocessing.get_context()
        try:
            for index in range(self.count):
                in_r, in_w = ctx.Pipe(duplex=False)
                out_r, out_w = ctx.Pipe(duplex=False)
                process = ctx.Process(
                    target=_serve, name=f"whistle-replay-{index}", daemon=True,
                    args=(index, self.count, self.candidate, self.baseline, in_r, out_w))
                process.start()
                in_r.close()
                out_w.close()
                self.workers.append(_Worker(index, process, in_w, out_r))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            if w.process.is_alive():
                w.process.terminate()
        for w in self.workers:
            w.process.join()
            w.inbox.close()
            w.outbox.close()
        self.workers = []

    def feed(self, lines: Iterable[Line]) -> list[Fed]:
        for k, chunk in _routed(lines, self.count):
            self._send(self.workers[k], chunk)
        for w in self.workers:
            self._send(w, None)
        return self._gather("fed")

    def finish(self, until: datetime | None) -> list[list[Outcome]]:
        for w in self.workers:
            self._send(w, until)
        done = self._gather("done")
        self.cpu = [cpu for _, cpu in done]
        for w in self.workers:
            w.process.join()
        return [list(outcomes) for outcomes, _ in done]

    def _send(self, w: _Worker, message: object) -> None:
        try:
            w.inbox.send(message)
        except OSError:  # the worker is gone: say why, if it did
            raise self._failure(w) from None

    def _failure(self, w: _Worker) -> WorkerError:
        code = _exitcode(w)
        with suppress(OSError, EOFError):
            if w.outbox.poll():
                kind, body = w.outbox.recv()
                if kind == "error":
                    return WorkerError(f"replay worker {w.index} failed:\n{body}")
        return WorkerError(f"replay worker {w.index} exited with code {code} and no answer")

    def _gather(self, tag: str) -> list[Any]:
        """One message from every worker, in worker order; raises on the first failure."""
        answers: dict[int, Any] = {}
        while len(answers) < len(self.workers):
            waiting = [w for w in self.workers if w.index not in answers]
            ready = set(wait([w.outbox for w in waiting] + [w.process.sentinel for w in waiting]))
            for w in waiting:
                if w.outbox not in ready and w.process.sentinel not in ready:
                    continue
                if not w.outbox.poll():
                    raise self._failure(w)
                try:
                    kind, body = w.outbox.recv()
                except EOFError:
                    raise self._failure(w) from None
                if kind == "error":
                    raise WorkerError(f"replay worker {w.index} failed:\n{body}")
                if kind != tag:
                    raise WorkerError(f"replay worker {w.index}: {kind!r} when {tag!r} was due")
                answers[w.index] = body
        return [answers[w.index] for w in self.workers]


def _exitcode(w: _Worker) -> object:
    w.process.join(timeout=5)
    return w.process.exitcode


def _serve(index: int, count: int, candidate: Ruleset, baseline: Ruleset | None,
           inbox: Connection, outbox: Connection) -> None:
    """A worker process: lines until None, then ``Fed``; then ``until``, then the outcomes and
    the CPU time it took."""
    parent = os.getppid()
    gc.freeze()  # what came with the fork stays shared: no collection touches (copies) it

    def receive() -> Any:
        while not inbox.poll(1.0):
            if os.getppid() != parent:  # the parent died: nobody will ever send the rest
                raise SystemExit(1)
        return inbox.recv()

    try:
        part = Partition(index, count, candidate, baseline)
        while (chunk := receive()) is not None:
            part.add(chunk)
        outbox.send(("fed", part.feed()))
        outbox.send(("done", (part.finish(receive()), time.process_time())))
    except BaseException:
        with suppress(Exception):
            outbox.send(("error", traceback.format_exc()))
    finally:
        outbox.close()
