"""``whistle run --demo``: simulated Xishan traffic against the running engine, and a summary.

Residents raise issues at random grids (categories weighted as in the seed: parking and garbage
first); the simulated units answer what the engine assigns them, with the demo's pace
(``engine.simulation.DEMO_PACE``: some whistle, some are slow so limits pass and issues climb,
some departments report late or never, some residents are unsatisfied and the issue reopens).
Everything runs on a virtual clock ``speed`` times faster than the wall clock, shared with the
engine's ticks, so the real Xishan rules — working hours, weekends, holidays — play out in
minutes. The clock starts once the engine is ready. The summary is the engine's own account
(``engine.agents.demo_tally``), not the simulator's.
"""

from __future__ import annotations

import heapq
import json
import random
import threading
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

from engine.agents.clock import VirtualClock
from engine.agents.demo_tally import Tally, report_outcomes
from engine.agents.topics import Topics
from engine.domain.events import OUTBOUND_TYPES, Envelope
from engine.domain.ruleset import Ruleset
from engine.simulation import DEMO_PACE, World
from engine.streams.kafka import read

ARRIVALS_PER_SECOND = 2.5  # per wall second: one issue every four Xishan minutes


class Demo:
    def __init__(self, config: dict[str, Any], topics: Topics, rules: Ruleset,
                 clock: VirtualClock, out: TextIO,
                 arrivals_per_second: float = ARRIVALS_PER_SECOND, seed: int = 11,
                 summary_every: float = 5.0, metrics_url: str = "",
                 ready_url: str = "") -> None:
        self.metrics_url = metrics_url
        self.config = config
        self.topics = topics
        self.clock = clock
        self.out = out
        self.rate = arrivals_per_second
        self.ready_url = ready_url
        self.world = World(rules, seed=seed, source="grid-app/xishan-demo", pace=DEMO_PACE)
        self.rng = random.Random(seed)
        self.summary_every = summary_every
        self.prefix = f"XS-DEMO-{int(time.time()) % 100000:05d}"
        self.tally = Tally(self.prefix)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the world and the queue: both threads use them
        self._queue: list[tuple[datetime, int, Envelope]] = []
        self._order = 0

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="demo").start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        began = time.monotonic()
        while not self._ready():
            if self._stop.wait(0.2):
                return
        self.clock.begin()
        print(f"whistle: the engine is ready after {time.monotonic() - began:.0f} s; demo "
              f"traffic starts at Xishan {self.clock.start:%a %Y-%m-%d %H:%M}", file=self.out,
              flush=True)
        threading.Thread(target=self._publish, daemon=True, name="demo-publish").start()
        self._watch()

    def _ready(self) -> bool:
        if not self.ready_url:
            return True
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as r:
                return bool(r.status == 200)
        except OSError:  # not serving yet, or 503 (HTTPError is an OSError)
            return False

    def _schedule(self, event: Envelope) -> None:
        self._order += 1
        heapq.heappush(self._queue, (event.time, self._order, event))

    def _publish(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(**self.config, linger_ms=5)
        n = 0
        next_arrival = time.monotonic()
        while not self._stop.is_set():
            now = self.clock.now()
            due = []
            with self._lock:
                while time.monotonic() >= next_arrival:
                    n += 1
                    self._schedule(self.world.arrival(f"{self.prefix}-{n:06d}", now))
                    next_arrival += self.rng.expovariate(self.rate)
                while self._queue and self._queue[0][0] <= now:
                    event = heapq.heappop(self._queue)[2]
                    if self.world.current(event):
                        due.append(event)
            for event in due:
                producer.send(self.topics.events, key=event.subject.encode(),
                              value=event.model_dump_json().encode())
            if due:
                producer.flush()
            time.sleep(0.05)
        producer.close()

    def _watch(self) -> None:
        # from the beginning: the first assignments come before the reader has partitions (the
        # demo's issues are told apart by their id prefix)
        started = last = time.monotonic()

        def every_few_seconds() -> None:
            nonlocal last
            if time.monotonic() - last >= self.summary_every:
                last = time.monotonic()
                print(self.summary(last - started), file=self.out, flush=True)

        for record in read(self.config, [self.topics.lifecycle], idle_seconds=None,
                           stop=self._stop, after_poll=every_few_seconds):
            self._observe(record.value or b"")

    def _observe(self, value: bytes) -> None:
        try:
            doc = json.loads(value)
        except ValueError:
            return
        cls = OUTBOUND_TYPES.get(doc.get("type", "")) if isinstance(doc, dict) else None
        if cls is None or not self.tally.observe(doc):
            return
        event = cls.model_validate_json(value)
        with self._lock:
            for reaction in self.world.react(event):
                self._schedule(reaction)

    def _reports(self) -> dict[str, Counter[str]]:
        if not self.metrics_url:
            return {}
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as r:
                return report_outcomes(r.read().decode())
        except OSError:
            return {}

    def summary(self, elapsed: float) -> str:
        return self.tally.summary(elapsed, self.clock.now(), self._reports())


def demo_clock(speed: float) -> VirtualClock:
    """Monday 2026-11-23 08:30 in Xishan, inside chinese-calendar's known data; held until the
    demo begins it."""
    start = datetime(2026, 11, 23, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    return VirtualClock(start=start, speed=speed, held=True)
