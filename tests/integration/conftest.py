"""Integration fixtures: a real Tansu broker, engine workers as subprocesses, and a lane of
topics (one prefix and consumer group per test) with a producer and a collecting consumer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.agents.broker import EmbeddedBroker, free_port
from engine.agents.processor import Topics

ROOT = Path(__file__).resolve().parents[2]
LIVE_RULES = ROOT / "tests" / "testdata" / "live-rules"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_file=log) as b:
        yield b


class Worker:
    def __init__(self, lane: Lane, name: str, env: dict[str, str] | None = None) -> None:
        self.lane = lane
        self.port = free_port()
        self.log = lane.tmp / f"worker-{name}.log"
        environment = {
            **os.environ,
            "WHISTLE_BROKER": lane.broker.url,
            "WHISTLE_BROKER_QUIRKS": "tansu",
            "WHISTLE_RULES": str(lane.rules),
            "WHISTLE_APP_ID": lane.app_id,
            "WHISTLE_TOPIC_PREFIX": lane.prefix,
            "WHISTLE_PARTITIONS": "4",
            "WHISTLE_TICK_SECONDS": "0.25",
            "WHISTLE_SESSION_TIMEOUT": "6",
            "WHISTLE_WEB_PORT": str(self.port),
            "WHISTLE_DATA_DIR": str(lane.tmp / f"data-{name}"),
            "WHISTLE_STORE": "memory",  # tests/integration/test_rocksdb.py runs the other
            **lane.env,
            **(env or {}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", "--log-level", "info"],
            cwd=ROOT, env=environment, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}: {self.tail()}")
            try:
                status, _ = self.get("/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout}s: {self.tail()}")

    def state(self) -> dict[str, Any]:
        status, body = self.get("/debug/state")
        assert status == 200, status
        return body  # type: ignore[no-any-return]

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def kill(self, sig: int = signal.SIGKILL) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:]


class Lane:
    """One test's topics (own prefix), consumer group, producer and collected outputs."""

    def __init__(self, broker: EmbeddedBroker, tmp: Path, rules: Path = LIVE_RULES) -> None:
        from kafka import KafkaProducer

        self.broker = broker
        self.tmp = tmp
        self.rules = rules
        tag = uuid.uuid4().hex[:8]
        self.prefix = f"t{tag}."
        self.app_id = f"whistle-{tag}"
        self.topics = Topics.with_prefix(self.prefix)
        self.workers: list[Worker] = []
        self.env: dict[str, str] = {}  # settings every worker of the lane gets
        self.producer = KafkaProducer(bootstrap_servers=[broker.url], linger_ms=5)
        self.out: dict[str, list[dict[str, Any]]] = {"lifecycle": [], "closed": [], "rejected": [],
                                                     "points": []}
        self._stop = threading.Event()
        self._n = 0
        self._thread: threading.Thread | None = None

    def worker(self, name: str = "a", env: dict[str, str] | None = None) -> Worker:
        w = Worker(self, name, env)
        self.workers.append(w)
        return w

    def listen(self) -> None:
        """Collect the output topics (call once the first worker has created them)."""
        from engine.streams.kafka import read

        names = {self.topics.lifecycle: "lifecycle", self.topics.closed: "closed",
                 self.topics.rejected: "rejected", self.topics.points: "points"}
        records = read({"bootstrap_servers": [self.broker.url]}, list(names), idle_seconds=None,
                       stop=self._stop, connect_seconds=30)  # the engine's one Kafka reader

        def run() -> None:
            for record in records:
                self.out[names[record.topic]].append(json.loads(record.value or b""))

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def send(self, kind: str, issue: str, at: datetime | None = None, raw: bytes | None = None,
             key: bytes | None = None, event_id: str | None = None, **data: Any) -> bytes:
        self._n += 1
        value = raw if raw is not None else json.dumps({
            "specversion": "1.0", "id": event_id or f"{issue}-{self._n}",
            "source": "grid-app/test", "type": f"issue.{kind}", "subject": issue,
            "time": (at or datetime.now(UTC)).isoformat(), "data": data,
        }, ensure_ascii=False).encode()
        self.producer.send(self.topics.events, key=key if key is not None else issue.encode(),
                           value=value)
        self.producer.flush()
        return value

    def of(self, issue: str, stream: str = "lifecycle") -> list[dict[str, Any]]:
        """Distinct events of an issue (redeliveries carry the same id), in order."""
        seen: dict[str, dict[str, Any]] = {}
        for e in list(self.out[stream]):
            if e.get("subject") == issue:
                seen.setdefault(e["id"], e)
        return list(seen.values())

    def wait(self, what: Callable[[], Any], timeout: float = 60, why: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = what()
            if got:
                return got
            time.sleep(0.1)
        logs = "\n".join(f"--- {w.log.name}\n{w.tail(1500)}" for w in self.workers)
        raise AssertionError(f"timed out waiting for {why or what}\n{logs}")

    def wait_type(self, issue: str, type_: str, count: int = 1, timeout: float = 60) -> list[Any]:
        return self.wait(  # type: ignore[no-any-return]
            lambda: (lambda evs: evs if len(evs) >= count else None)(
                [e for e in self.of(issue) if e["type"] == f"issue.{type_}"]),
            timeout, why=f"{count} x issue.{type_} for {issue}")

    def close(self) -> None:
        self._stop.set()
        for w in self.workers:
            if w.proc.poll() is None:
                w.kill(signal.SIGKILL)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.producer.close()


@pytest.fixture
def lane(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Lane]:
    lane = Lane(broker, tmp_path)
    yield lane
    lane.close()


@pytest.fixture
def busy_cpus() -> Iterator[int]:
    """Every core kept busy for the test's duration: one spinning process per CPU (at least 2),
    so that the engine's timers, heartbeats and flushes compete for the CPU as on a loaded host."""
    n = max(2, os.cpu_count() or 1)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield n
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait(timeout=10)
