"""A real Prometheus scrapes a real engine on the embedded broker; its recording rules must
equal the exact figures that `whistle report` computes from the closure events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.agents.broker import free_port
from engine.report.figures import assess
from tests.integration.conftest import Lane

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
pytestmark = pytest.mark.integration


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is missing: `make system-deps` installs it")
        pytest.skip(f"{binary} not installed (make system-deps)")
    return path


class Prometheus:
    def __init__(self, tmp: Path, target: str) -> None:
        self.port = free_port()
        rules = yaml.safe_load((INFRA / "prometheus" / "rules" / "recording.yml").read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"  # the same rules, evaluated every second for the test
        (tmp / "recording.yml").write_text(yaml.safe_dump(rules))
        (tmp / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "recording.yml")],
            "scrape_configs": [{"job_name": "whistle", "static_configs": [
                {"targets": [target]}]}],
        }))
        self.log = tmp / "prometheus.log"
        self.proc = subprocess.Popen(
            [need("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]["result"]  # type: ignore[no-any-return]

    def value(self, expr: str, **labels: str) -> float | None:
        try:
            samples = self.query(expr)
        except OSError:  # not listening yet
            return None
        for sample in samples:
            if all(sample["metric"].get(k) == v for k, v in labels.items()):
                return float(sample["value"][1])
        return None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


# what the dashboard's workflow row reads: recording rules and the worker's metric families
WORKFLOW_READS = ("whistle:invalid_return_rate:ratio_1h",
                  "whistle:overdue_after_extension_rate:ratio_1h", "whistle_urgings_total",
                  "whistle_supervisions_total", "whistle_parked_issues")


def safe_query(prom: Prometheus, expr: str) -> list[Any]:
    try:
        return prom.query(expr)
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{expr}: {e.read().decode()}") from None


def scenario(lane: Lane) -> None:
    """Five issues on the live rules (limits of seconds) with known outcomes."""
    lane.send("raised", "P1", grid="jinan-g1", category="noise", title="t")
    lane.send("acknowledged", "P1", unit="jinan-g1")
    lane.send("resolved", "P1", unit="jinan-g1")
    lane.send("rated", "P1", satisfied=True)
    lane.send("raised", "P2", grid="jinan-g2", category="illegal_parking", title="t")  # missed
    lane.send("raised", "P3", grid="jinan-g1", category="illegal_parking", title="t")
    lane.send("raised", "P4", grid="jinan-g2", category="noise", title="t")
    lane.send("withdrawn", "P4", reason="ok")
    lane.send("raised", "P5", grid="jinan-g1", category="noise", title="t")
    lane.send("acknowledged", "P5", unit="jinan-g1")
    lane.send("resolved", "P5", unit="jinan-g1")  # never rated: closes by its rating window
    lane.wait_type("P2", "escalated")
    lane.send("acknowledged", "P2", unit="jinan")
    lane.send("resolved", "P2", unit="jinan")
    lane.send("rated", "P2", satisfied=False)
    for unit in ("jinan-g1", "jinan", "dongting"):
        lane.send("whistled", "P3", unit=unit, reason="r")
    lane.wait_type("P3", "assigned", 4)
    lane.send("reported", "P3", department="traffic_police")
    lane.send("resolved", "P3", unit="traffic_police")
    lane.send("rated", "P3", satisfied=True)
    lane.wait_type("P2", "reopened")
    lane.send("resolved", "P2", unit="jinan")
    lane.send("rated", "P2", satisfied=True)


def test_recording_rules_equal_the_exact_report(lane: Lane, tmp_path: Path) -> None:
    need("prometheus")
    worker = lane.worker("a")
    worker.wait_ready()
    lane.listen()
    prom = Prometheus(tmp_path, f"127.0.0.1:{worker.port}")
    try:
        # the first scrape must see every series at 0, before any traffic
        lane.wait(lambda: prom.value("up") == 1.0 and prom.value(
            "whistle_report_outcomes_total", department="housing", outcome="missed") == 0.0,
            60, why="a first scrape")
        scenario(lane)
        closed = lane.wait(lambda: (lambda c: c if len({e["subject"] for e in c}) >= 5
                                    else None)(lane.out["closed"]), 90, why="5 closures")
        now = datetime.now(UTC)
        exact = assess(closed, now - timedelta(hours=1), now + timedelta(minutes=1))
        assert exact.issues == 5
        time.sleep(4)  # a scrape after the last closure, and a rule evaluation after that
        lane.wait(lambda: prom.value("sum(whistle_issues_closed_total)") == 5.0, 30,
                  why="Prometheus to see the 5 closures")
        time.sleep(2.5)

        def close_to(got: float | None, want: Any) -> bool:
            return got is not None and want is not None and abs(got - float(want)) < 1e-9

        for dept in exact.departments:
            if dept.assigned:
                got = prom.value("whistle:report_rate:ratio_1h", department=dept.department)
                assert close_to(got, dept.report_rate.value), (dept, got)
        district = exact.district
        checks = {
            "whistle:local_resolution_rate:ratio_1h": district.local_resolution_rate.value,
            "whistle:on_time_resolution_rate:ratio_1h": district.on_time_rate.value,
            "whistle:satisfaction_rate:ratio_1h": None,  # ratings, not closures: below
        }
        for rule, want in checks.items():
            if want is not None:
                got = prom.value(rule)
                assert close_to(got, want), (rule, got, want)
        # satisfaction counts every rating (P2 was rated twice: unsatisfied, then satisfied)
        assert close_to(prom.value("whistle:satisfaction_rate:ratio_1h"), 3 / 4)
        assert exact.district.satisfaction_rate.value is not None
        dashboard = INFRA / "grafana" / "dashboards" / "whistle.json"
        if dashboard.exists():
            empty = [e for e in panel_queries(dashboard) if not safe_query(prom, e)]
            # the workflow row (returns, extensions, urging, parking) has no data after this
            # scenario's five plain issues: those queries must name what the worker exports
            # (its /metrics lists every family, with or without series) or a recording rule
            # (computed by promtool's unit tests, infra/prometheus/tests/)
            exported = urllib.request.urlopen(
                f"http://127.0.0.1:{worker.port}/metrics", timeout=10).read().decode()
            rules = {r["record"] for g in yaml.safe_load(
                (INFRA / "prometheus" / "rules" / "recording.yml").read_text())["groups"]
                for r in g["rules"] if "record" in r}
            workflow = [e for e in empty if any(name in e for name in WORKFLOW_READS)]
            for expr in workflow:
                for name in WORKFLOW_READS:
                    if name in expr:
                        assert (name in rules if name.startswith("whistle:")
                                else f"# TYPE {name} " in exported), (expr, name)
            empty = [e for e in empty if e not in workflow]
            assert not empty, f"dashboard queries with no data: {empty}"
    finally:
        prom.stop()


# Grafana's variables, as a dashboard user would have them: the 1h window, all values.
VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$window": "1h"}


def panel_queries(path: Path) -> list[str]:
    doc = json.loads(path.read_text())
    out = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                expr = t.get("expr")
                if expr:
                    for var, value in VARIABLES.items():
                        expr = expr.replace(var, value)
                    out.append(expr)

    walk(doc.get("panels", []))
    return out
