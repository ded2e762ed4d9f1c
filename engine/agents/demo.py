"""``whistle run --demo``: simulated Xishan traffic against the running engine, and a summary.

Residents raise issues at random grids (categories weighted as in the seed: parking and garbage
first); the simulated units answer what the engine assigns them (some are slow, so limits pass,
issues climb, departments report late or never, residents reopen). Everything runs on a virtual
clock ``speed`` times faster than the wall clock, shared with the engine's ticks, so the real
Xishan rules — working hours, weekends, holidays — play out in minutes.
"""

from __future__ import annotations

import heapq
import json
import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, TextIO

from engine.agents.clock import VirtualClock
from engine.agents.topics import Topics
from engine.domain.events import IssueAssigned
from engine.domain.ruleset import Ruleset
from engine.simulation import World


class Demo:
    def __init__(self, config: dict[str, Any], topics: Topics, rules: Ruleset,
                 clock: VirtualClock, out: TextIO, arrivals_per_second: float = 1.0,
                 seed: int = 11, summary_every: float = 5.0, metrics_url: str = "") -> None:
        self.metrics_url = metrics_url
        self.config = config
        self.topics = topics
        self.rules = rules
        self.clock = clock
        self.out = out
        self.rate = arrivals_per_second
        self.world = World(rules, seed=seed, source="grid-app/xishan-demo")
        self.rng = random.Random(seed)
        self.summary_every = summary_every
        self.stats: Counter[str] = Counter()
        self.open: dict[str, str] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._queue: list[tuple[datetime, int, Any]] = []
        self._order = 0
        self.prefix = f"XS-DEMO-{int(time.time()) % 100000:05d}"

    def start(self) -> None:
        for target in (self._publish, self._watch):
            threading.Thread(target=target, daemon=True, name=target.__name__).start()

    def stop(self) -> None:
        self._stop.set()

    def _schedule(self, event: Any) -> None:
        with self._lock:
            self._order += 1
            heapq.heappush(self._queue, (event.time, self._order, event))

    def _publish(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(**self.config, linger_ms=5)
        n = 0
        next_arrival = time.monotonic()
        while not self._stop.is_set():
            now = self.clock.now()
            if time.monotonic() >= next_arrival:
                n += 1
                self._schedule(self.world.arrival(f"{self.prefix}-{n:06d}", now))
                next_arrival += self.rng.expovariate(self.rate)
            due = []
            with self._lock:
                while self._queue and self._queue[0][0] <= now:
                    due.append(heapq.heappop(self._queue)[2])
            for event in due:
                producer.send(self.topics.events, key=event.subject.encode(),
                              value=event.model_dump_json().encode())
            if due:
                producer.flush()
            time.sleep(0.05)
        producer.close()

    def _watch(self) -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(self.topics.lifecycle, **self.config, group_id=None,
                                 auto_offset_reset="latest", consumer_timeout_ms=500)
        last = time.monotonic()
        started = last
        while not self._stop.is_set():
            for record in consumer:
                self._observe(record.value)
                if time.monotonic() - last >= self.summary_every:
                    break
            if time.monotonic() - last >= self.summary_every:
                last = time.monotonic()
                print(self.summary(last - started), file=self.out, flush=True)
        consumer.close()

    def _observe(self, value: bytes) -> None:
        from engine.domain.events import OUTBOUND_TYPES

        doc = json.loads(value)
        cls = OUTBOUND_TYPES.get(doc.get("type", ""))
        if cls is None or not str(doc.get("subject", "")).startswith(self.prefix):
            return
        event = cls.model_validate_json(value)
        s, d = self.stats, doc["data"]
        kind = doc["type"].removeprefix("issue.")
        if kind == "assigned":
            if d["reason"] == "raised":
                s["raised"] += 1
            self.open[doc["subject"]] = d["level"]
            if isinstance(event, IssueAssigned):
                for reaction in self.world.react(event):
                    self._schedule(reaction)
        elif kind == "escalated":
            s[f"escalated:{d['reason']}"] += 1
        elif kind == "overdue":
            s[f"overdue:{d['kind']}"] += 1
        elif kind == "reopened":
            s["reopened"] += 1
        elif kind == "closed":
            self.open.pop(doc["subject"], None)
            s[f"closed:{d['outcome']}"] += 1
            if d["satisfied"] is True:
                s["satisfied"] += 1
            for r in d["reports"]:
                s[f"report:{r['outcome']}"] += 1

    def _reports(self) -> Counter[str]:
        """Department reports so far, by outcome, from the engine's own /metrics (reports of
        open issues included; the closures only settle them at the end)."""
        import re
        import urllib.request

        out: Counter[str] = Counter()
        if not self.metrics_url:
            return out
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return out
        for m in re.finditer(r'^whistle_report_outcomes_total{[^}]*outcome="(\w+)"[^}]*} (\S+)$',
                             text, re.M):
            out[m.group(1)] += int(float(m.group(2)))
        return out

    def summary(self, elapsed: float) -> str:
        s = self.stats
        reports = self._reports()
        virtual = self.clock.now().astimezone(
            __import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
        esc = sum(v for k, v in s.items() if k.startswith("escalated:"))
        levels = Counter(self.open.values())
        return (
            f"[demo {int(elapsed):>4}s | Xishan time {virtual:%a %m-%d %H:%M}] "
            f"raised {s['raised']} | escalated {esc} (whistle {s['escalated:whistle']}, "
            f"respond {s['escalated:respond_overdue']}, resolve {s['escalated:resolve_overdue']}, "
            f"reopens {s['escalated:reopened_too_often']}) | overdue {s['overdue:respond']}/"
            f"{s['overdue:resolve']}/{s['overdue:report']} (respond/resolve/report) | "
            f"reports on time {reports['on_time']}, late {reports['late']}, missed "
            f"{reports['missed']} | closed {s['closed:resolved'] + s['closed:withdrawn']} "
            f"(satisfied {s['satisfied']}, reopened {s['reopened']}) | open "
            + " ".join(f"{lvl} {levels[lvl]}" for lvl in ("grid", "village", "street",
                                                          "department"))
        )


def demo_clock(speed: float) -> VirtualClock:
    """Monday 2026-11-23 08:30 in Xishan, inside chinese-calendar's known data."""
    from datetime import timezone

    start = datetime(2026, 11, 23, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    return VirtualClock(start=start, speed=speed)
