"""Benchmark: state at scale on one worker, on the embedded broker. Figures only, never pass/fail.

1. Memory: N open issues with armed deadlines (benchmarks/lag-rules: "noise" issues, limits of
   hours, a deadline and its warning each) ingested by one worker; its resident memory (VmRSS)
   after ingest minus at ready, per open issue. Target: <= 2 KB.
2. Deadline lag: 1,000 probe issues whose 3 s limits fall due while the N are open; p99 of
   whistle_timer_lag_seconds over the probes. Target: <= 1 s.
3. Restart with the RocksDB store intact (SIGKILL, same data dir): seconds from start to ready
   (recovery done) and to the deadline index rebuilt (whistle_open_issues back to N). Target
   < 10 s. Then with the data dir lost (the whole changelog recovered). Target < 60 s.
4. Failover: two workers share the partitions; one is SIGKILLed 5 s before a wave of probe
   deadlines; the survivor's lag for them (the time it takes to take the partitions over).

Usage: python benchmarks/scale_bench.py [--issues N] [--store memory|rocksdb] [--skip-failover]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_bench import (
    PARTITIONS,
    _buckets,
    free_port,
    get,
    metric_sum,
    produce,
    raised,
    wait,
)

from engine.agents.broker import EmbeddedBroker

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "benchmarks" / "lag-rules"


class Worker:
    def __init__(self, broker: EmbeddedBroker, tmp: Path, tag: str, store: str, data: str
                 ) -> None:
        self.port = free_port()
        self.log = tmp / f"{tag}-{data}.log"
        env = {**os.environ, "WHISTLE_BROKER": broker.url, "WHISTLE_BROKER_QUIRKS": "tansu",
               "WHISTLE_RULES": str(RULES), "WHISTLE_APP_ID": f"scale-{tag}",
               "WHISTLE_TOPIC_PREFIX": f"bench.{tag}.", "WHISTLE_WEB_PORT": str(self.port),
               "WHISTLE_PARTITIONS": str(PARTITIONS), "WHISTLE_DATA_DIR": str(tmp / data),
               "WHISTLE_SESSION_TIMEOUT": "6", "WHISTLE_STORE": store}
        self.started = time.monotonic()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engine.cli", "run", "--log-level", "warning"], env=env,
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ready(self, timeout: float = 900) -> float:
        return wait(lambda: get(self.url("/readyz"))[0] == 200, timeout, "ready",
                    self.proc) - self.started

    def metrics(self) -> str:
        return get(self.url("/metrics"))[1]

    def consumed(self) -> int:
        body = get(self.url("/debug/progress"))[1]
        return int(json.loads(body or "{}").get("consumed", 0))

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def publish(url: str, topic: str, records: list[tuple[bytes, bytes]], chunk: int = 50_000
            ) -> None:
    for i in range(0, len(records), chunk):
        produce(url, topic, records[i:i + chunk])


def lag_quantile(before: str, after: str, q: float) -> float:
    b, a = _buckets(before), _buckets(after)
    deltas = sorted((le, c - b.get(le, 0.0)) for le, c in a.items())
    total = metric_sum(after, "whistle_timer_lag_seconds_count") - metric_sum(
        before, "whistle_timer_lag_seconds_count")
    return next((le for le, c in deltas if c >= q * total), float("inf"))


def probes(w: Worker, url: str, topic: str, n: int = 1000, spread: float = 10.0,
           delay: float = 0.0) -> tuple[float, float]:
    """n probe issues (3 s respond limits, due ``delay`` s from now, spread over ``spread`` s);
    p50 and p99 of their deadline lag (bucket bounds)."""
    before = w.metrics()
    start = datetime.now(UTC) + timedelta(seconds=delay)
    publish(url, topic, [raised(f"PROBE{int(time.time())}", i, "illegal_parking",
                                start + timedelta(seconds=spread * i / n)) for i in range(n)])
    count0 = metric_sum(before, "whistle_timer_lag_seconds_count")
    wait(lambda: metric_sum(w.metrics(), "whistle_timer_lag_seconds_count") >= count0 + n,
         600, "probe deadlines fired", w.proc)
    after = w.metrics()
    return lag_quantile(before, after, 0.5), lag_quantile(before, after, 0.99)


def rebuilt(w: Worker, n: int, timeout: float = 900) -> float:
    """Seconds from start until the index is rebuilt: every open issue counted again."""
    return wait(lambda: metric_sum(w.metrics(), "whistle_open_issues") >= n, timeout,
                "index rebuilt", w.proc) - w.started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=200_000)
    ap.add_argument("--store", choices=("memory", "rocksdb"), default="rocksdb")
    ap.add_argument("--skip-failover", action="store_true")
    args = ap.parse_args()
    n = args.issues
    print(f"scale benchmark: {n:,} open issues, {PARTITIONS} partitions, store {args.store}, "
          "embedded Tansu")
    with tempfile.TemporaryDirectory() as d, EmbeddedBroker() as broker:
        tmp = Path(d)
        topic = "bench.s1.issues.events"  # the worker creates its topics at start
        w = Worker(broker, tmp, "s1", args.store, "data-a")
        print(f"  ready in {w.ready():.1f} s (empty)")
        time.sleep(2)
        rss0 = w.rss()
        now = datetime.now(UTC)
        t0 = time.monotonic()
        publish(broker.url, topic, [raised("OPEN", i, "noise", now) for i in range(n)])
        wait(lambda: w.consumed() >= n, 7200, "open issues ingested", w.proc)
        ingest = time.monotonic() - t0
        time.sleep(3)
        rss1 = w.rss()
        print(f"  ingested {n:,} raises in {ingest:.0f} s ({n / ingest:,.0f} events/s)")
        print(f"  resident memory: {rss0 / 2**20:,.0f} MiB empty, {rss1 / 2**20:,.0f} MiB with "
              f"{n:,} open: {(rss1 - rss0) / n:,.0f} bytes per open issue (target <= 2,048)")
        p50, p99 = probes(w, broker.url, topic)
        print(f"  deadline lag of 1,000 probes among {n:,} open: p50 <= {p50} s, p99 <= {p99} s "
              "(target p99 <= 1 s)")
        opened = int(metric_sum(w.metrics(), "whistle_open_issues"))
        if args.store == "rocksdb":
            for how in ("SIGTERM", "SIGKILL"):  # a planned restart (leaves the group), a crash
                if how == "SIGTERM":
                    w.proc.send_signal(signal.SIGTERM)
                    w.proc.wait()
                else:
                    w.kill()
                w = Worker(broker, tmp, "s1", args.store, "data-a")
                ready = w.ready()
                print(f"  restart after {how}, RocksDB kept: ready in {ready:.1f} s, index "
                      f"rebuilt in {rebuilt(w, opened):.1f} s (target < 10 s)")
        w.kill()
        w = Worker(broker, tmp, "s1", args.store, "data-lost")
        ready = w.ready()
        print(f"  restart, data dir lost (whole changelog): ready in {ready:.1f} s, index "
              f"rebuilt in {rebuilt(w, opened):.1f} s (target < 60 s)")
        if not args.skip_failover:
            other = Worker(broker, tmp, "s1", args.store, "data-b")
            other.ready()
            wait(lambda: get(w.url("/readyz"))[0] == 200 and get(other.url("/readyz"))[0] == 200,
                 600, "both workers ready after the rebalance")
            time.sleep(3)
            before = other.metrics()
            start = datetime.now(UTC) + timedelta(seconds=5)
            publish(broker.url, topic, [raised("FAIL", i, "illegal_parking", start)
                                        for i in range(200)])
            time.sleep(2)
            w.kill()
            count0 = metric_sum(before, "whistle_timer_lag_seconds_count")
            wait(lambda: metric_sum(other.metrics(), "whistle_timer_lag_seconds_count")
                 >= count0 + 200, 900, "the survivor fired every probe", other.proc)
            after = other.metrics()
            print(f"  failover: the survivor fired the dead worker's deadlines with lag p99 <= "
                  f"{lag_quantile(before, after, 0.99)} s, max <= "
                  f"{lag_quantile(before, after, 1.0)} s")
            other.kill()
        if w.proc.poll() is None:
            w.kill()


if __name__ == "__main__":
    main()
