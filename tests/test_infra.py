"""infra/: Prometheus config, recording and alert rules (with promtool's own unit tests), the
Grafana dashboard (generated: drift test), the compose file and the Dockerfile.

Every metric name in the rules and the dashboard must be one the engine exports (read from its
own registry), so renaming a metric breaks these tests rather than a dashboard in production.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry

from engine.agents import settings
from engine.agents.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
PROM = INFRA / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
PROMTOOL_TESTS = sorted((PROM / "tests").glob("*.yml"))
DASHBOARD = INFRA / "grafana" / "dashboards" / "whistle.json"
WINDOWS = ("1h", "1d", "30d")


def required(what: str, present: bool, hint: str) -> None:
    """Missing tooling: a failure in CI (env CI set), a skip with the reason elsewhere."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI: {hint}")
    pytest.skip(f"{what} is missing: {hint}")


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    required("promtool", path is not None, "run scripts/install-system-deps.sh (as root)")
    assert path is not None
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- promtool ---------------------------------------------------------------------------------


def test_prometheus_config_is_valid(promtool: str) -> None:
    r = run(promtool, "check", "config", str(PROM / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_rule_files_are_valid(promtool: str) -> None:
    assert [p.name for p in RULE_FILES] == ["alerts.yml", "recording.yml"]
    r = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("test_file", PROMTOOL_TESTS, ids=lambda p: p.name)
def test_promtool_rule_unit_tests(promtool: str, test_file: Path) -> None:
    r = run(promtool, "test", "rules", str(test_file))
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_catches_a_wrong_expectation(promtool: str) -> None:
    r = run(promtool, "test", "rules",
            str(ROOT / "tests" / "testdata" / "infra" / "wrong_expectation_test.yml"))
    assert r.returncode != 0
    assert "FAILED" in r.stdout + r.stderr


# --- rule files -------------------------------------------------------------------------------


def recording_groups() -> dict[str, list[dict[str, str]]]:
    return {g["name"]: g["rules"] for g in load_yaml(PROM / "rules" / "recording.yml")["groups"]}


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load_yaml(PROM / "rules" / "alerts.yml")["groups"] for r in g["rules"]]


def recorded_names() -> set[str]:
    return {r["record"] for rules in recording_groups().values() for r in rules}


def test_every_window_records_the_same_rules() -> None:
    groups = recording_groups()
    assert sorted(groups) == sorted(f"whistle-rates-{w}" for w in WINDOWS)
    base = [(r["record"], r["expr"]) for r in groups["whistle-rates-1h"]]
    for w in WINDOWS:
        rules = groups[f"whistle-rates-{w}"]
        assert [(r["record"], r["expr"]) for r in rules] == [
            (name.removesuffix("_1h") + f"_{w}", expr.replace("[1h]", f"[{w}]"))
            for name, expr in base
        ]
        for r in rules:
            assert re.fullmatch(rf"whistle:[a-z_]+:(ratio|increase)_{w}", r["record"]), r
            assert f"[{w}]" in r["expr"]


def promtool_test_cases() -> Iterator[dict[str, Any]]:
    for path in PROMTOOL_TESTS:
        yield from load_yaml(path)["tests"]


def test_every_recording_family_and_alert_is_unit_tested() -> None:
    tested_exprs = {t["expr"] for case in promtool_test_cases()
                    for t in case.get("promql_expr_test", []) if t.get("exp_samples")}
    families = {name.rsplit("_", 1)[0] for name in recorded_names()}
    for family in families:
        assert any(e.startswith(family + "_") for e in tested_exprs), f"{family} has no test"
    assert {f"whistle:report_rate:ratio_{w}" for w in WINDOWS} <= tested_exprs

    firing: set[str] = set()
    quiet: set[str] = set()
    for case in promtool_test_cases():
        for t in case.get("alert_rule_test", []):
            (firing if t["exp_alerts"] else quiet).add(t["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names == firing, "every alert needs a firing case"
    assert names == quiet, "every alert needs a not-firing case"


def test_alerts_carry_severity_and_annotations() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_the_issue_asks_for_these_alerts() -> None:
    exprs = {r["alert"]: r["expr"] for r in alert_rules()}
    assert "whistle:report_rate:ratio_1d < 0.9" in exprs["WhistleReportRateBelowTarget"]
    assert "whistle_deadlines_missed_total" in exprs["WhistleOverdueBacklogGrowing"]
    assert "whistle_open_issues" in exprs["WhistleOverdueBacklogGrowing"]
    assert "whistle_timer_lag_seconds_bucket" in exprs["WhistleDeadlineLagHigh"]
    assert "increase(whistle_events_rejected_total[10m])) > 0" in exprs["WhistleEventsRejected"]
    assert exprs["WhistleWorkerDown"].strip() == 'up{job="whistle"} == 0'
    assert 'whistle_rules_reloads_total{result="failure"}' in exprs["WhistleRulesReloadFailed"]


# --- metric names -----------------------------------------------------------------------------


def registry_names(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Every sample name a registry exports -> the labels it may carry (scrape labels added)."""
    out: dict[str, set[str]] = {}
    # The registry's collectors and the sample names each exports (_total, _bucket, ...).
    for collector, names in registry._collector_to_names.items():
        labels = set(getattr(collector, "_labelnames", ())) | {"job", "instance"}
        for name in names:
            out[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    return out


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    names = registry_names(Metrics().registry)
    faust_registry = CollectorRegistry()
    FaustMetrics.create(faust_registry, "faust")  # the engine's sensor uses name_prefix="faust"
    faust = registry_names(faust_registry)
    assert faust and all(n.startswith("faust_") for n in faust)
    return {**faust, **names, "up": {"job", "instance"}}


KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan",
            "by", "without", "on", "ignoring", "group_left", "group_right"}
NAME = r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])"


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names or strings."""
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    return {m.group(1) for m in re.finditer(NAME + r"(?!\s*\()", s)
            if m.group(1) not in KEYWORDS}


def selectors(expr: str) -> Iterator[tuple[str, set[str]]]:
    """(metric name, label names matched) for every selector with braces."""
    for m in re.finditer(NAME + r"\s*\{([^}]*)\}", expr):
        yield m.group(1), set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", m.group(2)))


def test_metric_name_parser() -> None:
    expr = ('sum by (department) (increase(whistle_report_outcomes_total{outcome="on_time"}'
            '[1h] offset 1d)) / on (department) group_left whistle:reports:increase_1d > 0.9'
            ' or vector(0) and up{job="x"}')
    assert metric_names(expr) == {
        "whistle_report_outcomes_total", "whistle:reports:increase_1d", "up"}
    assert dict(selectors(expr)) == {"whistle_report_outcomes_total": {"outcome"}, "up": {"job"}}


def rule_exprs() -> Iterator[tuple[str, str]]:
    for rules in recording_groups().values():
        for r in rules:
            yield r["record"], r["expr"]
    for r in alert_rules():
        yield r["alert"], r["expr"]


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    for panel in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m").replace("$__range", "1d")
            for w in WINDOWS if "$window" in expr else ("",):
                yield panel["title"], expr.replace("$window", w)


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_is_one_the_engine_exports(
    source: str, exported: dict[str, set[str]]
) -> None:
    recorded = recorded_names()
    exprs = list(rule_exprs() if source == "rules" else dashboard_exprs())
    assert exprs
    used: set[str] = set()
    for where, expr in exprs:
        for name in metric_names(expr):
            assert name in exported or name in recorded, f"{where}: unknown metric {name}"
            used.add(name)
        for name, labels in selectors(expr):
            if name in exported:
                assert labels <= exported[name], f"{where}: {name} has no label {labels}"
    if source == "rules":
        # The families the issue names are all used (a rule silently dropped shows here).
        assert {
            "whistle_report_outcomes_total", "whistle_responses_total",
            "whistle_issues_closed_total", "whistle_ratings_total", "whistle_escalations_total",
            "whistle_issues_raised_total", "whistle_deadlines_missed_total",
            "whistle_open_issues", "whistle_timer_lag_seconds_bucket",
            "whistle_events_rejected_total", "whistle_rules_reloads_total", "up",
        } <= used


def test_recorded_rates_keep_only_exported_labels(exported: dict[str, set[str]]) -> None:
    for record, expr in rule_exprs():
        made = set(re.findall(r'label_replace\(.*?\)\),\s*"(\w+)"', expr))  # label_replace's
        for clause in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            labels = {x.strip() for x in clause.split(",") if x.strip()} - made
            sources = [exported[n] for n in metric_names(expr) if n in exported]
            assert any(labels <= s for s in sources), f"{record}: by ({clause})"


# --- Grafana ----------------------------------------------------------------------------------


def load_generator() -> ModuleType:
    required("grafana-foundation-sdk",
             importlib.util.find_spec("grafana_foundation_sdk") is not None,
             "pip install -e '.[dev]'")
    spec = importlib.util.spec_from_file_location(
        "whistle_dashboard", INFRA / "grafana" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dashboard_json_is_generated_and_current() -> None:
    generator = load_generator()
    assert DASHBOARD.read_text(encoding="utf-8") == generator.render(), (
        "infra/grafana/dashboards/whistle.json is out of date: "
        "run .venv/bin/python infra/grafana/generate.py")


def test_dashboard_uses_the_provisioned_datasource() -> None:
    provisioned = load_yaml(INFRA / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uids = {d["uid"] for d in provisioned["datasources"]}
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len(panels) >= 10
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels:
        assert p["datasource"]["uid"] in uids, p["title"]
        assert p["targets"], p["title"]


# --- compose and Dockerfile -------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = load_yaml(INFRA / "compose.yaml")
    assert isinstance(data, dict)
    return data


def binds(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a service: host path (relative to infra/) -> container path."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            out[source] = target
    return out


def documented_settings() -> set[str]:
    """WHISTLE_* names in settings.py's table; `WHISTLE_TLS_CAFILE / _CERTFILE` expands."""
    names: set[str] = set()
    for line in (settings.__doc__ or "").splitlines():
        first = re.search(r"WHISTLE_[A-Z_]+", line)
        if not line.startswith("|") or not first:
            continue
        prefix = first.group(0).rsplit("_", 1)[0]
        for token in re.findall(r"(?<![A-Z])(WHISTLE_[A-Z_]+|_[A-Z]+)\b", line.split("|")[1]):
            names.add(token if token.startswith("WHISTLE_") else prefix + token)
    return names


def test_documented_settings_parser() -> None:
    names = documented_settings()
    assert {"WHISTLE_BROKER", "WHISTLE_RULES", "WHISTLE_WEB_HOST", "WHISTLE_WEB_PORT",
            "WHISTLE_TLS_CERTFILE", "WHISTLE_SASL_PASSWORD"} <= names


def test_compose_parses_and_every_path_exists() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "engine", "prometheus", "grafana"}
    for name, service in services.items():
        for source in binds(service):
            assert (INFRA / source).exists(), f"{name}: {source} does not exist"
        build = service.get("build")
        if build:
            context = INFRA / build["context"]
            assert context.is_dir(), name
            assert (context / build["dockerfile"]).resolve() == INFRA / "Dockerfile"
    assert (INFRA / "Dockerfile").is_file()


def test_compose_kafka_is_single_node_kraft() -> None:
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def dockerfile_env() -> dict[str, str]:
    text = (INFRA / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def test_engine_settings_are_documented_and_consistent() -> None:
    engine = compose()["services"]["engine"]
    env = {k: str(v) for k, v in engine["environment"].items()}
    docker_env = dockerfile_env()
    documented = documented_settings()
    for name in [*env, *docker_env]:
        if name.startswith("WHISTLE_"):
            assert name in documented, f"{name} is not a setting (engine/agents/settings.py)"
    parsed = settings.Settings.from_env({**docker_env, **env})
    assert parsed.broker == "kafka:9092"
    assert parsed.web_host == "0.0.0.0"

    # The rules mount is the sample, where WHISTLE_RULES points.
    mounts = binds(engine)
    assert mounts["../engine/sample/xishan"].removesuffix(":ro") == str(parsed.rules)
    assert (INFRA / "../engine/sample/xishan").resolve() == settings.SAMPLE_RULES

    # Prometheus scrapes the engine's web port, which the image exposes.
    dockerfile = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    assert f"EXPOSE {parsed.web_port}" in dockerfile
    assert re.search(r'^ENTRYPOINT \["whistle", "run"\]$', dockerfile, re.M)
    assert re.search(r"^USER (?!root)\w+$", dockerfile, re.M)
    targets = json.loads((PROM / "targets" / "whistle.json").read_text(encoding="utf-8"))
    assert f"engine:{parsed.web_port}" in {t for group in targets for t in group["targets"]}


def test_compose_mounts_match_prometheus_and_grafana_config() -> None:
    services = compose()["services"]
    prometheus = services["prometheus"]
    config_dir = binds(prometheus)["./prometheus"]
    assert f"--config.file={config_dir}/prometheus.yml" in prometheus["command"]
    config = load_yaml(PROM / "prometheus.yml")
    assert [r for r in config["rule_files"]] == ["rules/recording.yml", "rules/alerts.yml"]
    assert config["global"]["evaluation_interval"] == "15s"
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "whistle")
    assert job["file_sd_configs"][0]["files"] == ["targets/*.json"]

    grafana = binds(services["grafana"])
    assert grafana["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = load_yaml(INFRA / "grafana" / "provisioning" / "dashboards" / "whistle.yml")
    assert provider["providers"][0]["options"]["path"] == grafana["./grafana/dashboards"]
    datasource = load_yaml(INFRA / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
