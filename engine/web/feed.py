"""What the operator page shows beside the table: the report rate by department for today and
this month, and the recent lifecycle events, read by each worker from the topics themselves.

Why the topics and not the table or counters: a closed issue's state retires from the table
after ``WHISTLE_RETAIN_CLOSED`` (7 days), and counters kept by a worker cover only its own
partitions and start again at every restart. ``issues.closed`` is the record ``whistle report``
counts from, so the page counts the same closures the same way (``engine.report.figures``): a
report (报到) counts in the period its issue *closed* in (Asia/Shanghai days and months, on the
engine's clock), settled as on time, late or missed; a report still due on an issue that has
not closed is not counted yet.

Each worker reads ``issues.closed`` and ``issues.lifecycle`` from the beginning in a thread
(``engine.streams.kafka``: no consumer group, nothing committed), keeps the closures of the
current month and the last ``RECENT`` lifecycle events, so every worker shows the same figures
without asking the others. The cost: reading both topics whole when the page is first
opened on a worker (``routes.Web.view`` starts the reader; a worker nobody opens it on
reads nothing), and the month's closures held in memory.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import structlog

from engine.agents.topics import Topics
from engine.domain.events import IssueClosed
from engine.report.figures import Assessment, as_event, assess
from engine.report.period import SHANGHAI

log = structlog.get_logger("whistle.web.feed")

RECENT = 40  # lifecycle events kept for the page


def month_of(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(SHANGHAI).date()
    first = local.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return _midnight(first), _midnight(nxt)


def day_of(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(SHANGHAI).date()
    return _midnight(local), _midnight(local + timedelta(days=1))


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, SHANGHAI)


@dataclass(frozen=True)
class Figures:
    today: Assessment
    month: Assessment
    closures_read: int  # issue.closed records read since the worker started (duplicates too)
    events_read: int  # lifecycle records read
    reading: bool  # the reader is connected and following the topics


class Feed:
    def __init__(self, config: dict[str, Any], topics: Topics, now: Callable[[], datetime],
                 departments: Callable[[], list[str]], recent: int = RECENT) -> None:
        self.config = config
        self.topics = topics
        self.now = now
        self.departments = departments
        self._lock = threading.Lock()
        self._closures: list[IssueClosed] = []  # closed in the current month or later
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent)
        self._recent_ids: deque[str] = deque(maxlen=recent * 4)
        self._closures_read = 0
        self._events_read = 0
        self._reading = False
        self._cache: tuple[Any, Figures] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="web-feed")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from engine.streams.kafka import ReadError, read

        while not self._stop.is_set():
            try:
                for record in read(self.config, [self.topics.closed, self.topics.lifecycle],
                                   idle_seconds=None, stop=self._stop, connect_seconds=30):
                    self._reading = True
                    self.take(record.topic, record.value)
            except ReadError as exc:
                log.warning("operator page feed cannot read the topics; retrying",
                            detail=str(exc))
            except Exception:  # never let the page's reader take the worker down
                log.exception("operator page feed failed; retrying")
            self._reading = False
            self._stop.wait(5.0)
            with self._lock:  # read again from the beginning: start afresh
                self._closures.clear()
                self._recent.clear()
                self._recent_ids.clear()
                self._closures_read = self._events_read = 0
                self._cache = None

    def take(self, topic: str, value: bytes | None) -> None:
        """One record of the closed or the lifecycle topic (malformed ones are passed over:
        the engine wrote them, and the page must not die on one)."""
        try:
            doc = json.loads(value or b"")
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if topic == self.topics.closed:
            try:
                event = as_event(doc)
            except ValueError:
                return
            start, _ = month_of(self.now())
            with self._lock:
                self._closures_read += 1
                if event.data.closed_at >= start:
                    self._closures.append(event)
                    self._cache = None
            return
        with self._lock:
            self._events_read += 1
            event_id = str(doc.get("id", ""))
            if event_id in self._recent_ids:  # a redelivery
                return
            self._recent_ids.append(event_id)
            self._recent.append(doc)

    def recent(self) -> list[dict[str, Any]]:
        """The last lifecycle events, newest first."""
        with self._lock:
            return list(reversed(self._recent))

    def figures(self) -> Figures:
        now = self.now()
        month = month_of(now)
        day = day_of(now)
        departments = self.departments()
        with self._lock:
            key = (len(self._closures), month, day, tuple(departments), self._reading)
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            if self._closures and self._closures[0].data.closed_at < month[0]:  # a new month
                self._closures = [c for c in self._closures if c.data.closed_at >= month[0]]
            closures = list(self._closures)
            read_closed, read_events = self._closures_read, self._events_read
        figures = Figures(
            today=assess(closures, *day, departments=departments),
            month=assess(closures, *month, departments=departments),
            closures_read=read_closed, events_read=read_events, reading=self._reading,
        )
        with self._lock:
            self._cache = (key, figures)
        return figures
