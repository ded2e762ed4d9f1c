"""``whistle run``: rules, broker (embedded if none is configured), topics, the worker."""

from __future__ import annotations

import gc
import sys
from typing import Any, TextIO

import structlog

from engine import native
from engine.agents import logs
from engine.agents.clock import Clock, SystemClock
from engine.agents.settings import Settings

log = structlog.get_logger("whistle.worker")

DEMO_SPEED = 600.0  # one wall second is ten Xishan minutes
# The cyclic GC's generation thresholds while serving (CPython's default: 700, 10, 10). A decision
# allocates hundreds of short-lived objects that reference counting frees; at 700 the collector
# ran every few messages and walked the young generation each time, and its full collections
# walked every cached state. Raised, it runs a few times a second at full load.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Before serving: move everything start-up made (modules, rules, calendars) out of the
    collector's reach (``gc.freeze``), and collect less often (``GC_THRESHOLDS``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(settings: Settings, demo: bool = False, loglevel: str = "info") -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = None
    if demo:  # the terminal is the demo's summary; the JSON logs go to a file
        path = settings.data_dir / "demo.log"
        path.write_text("")  # one run's logs; appended to by structlog and by faust's handler
        log_file = path.open("a", encoding="utf-8", buffering=1)
        print(f"whistle: logs (JSON lines, faust's too) in {log_file.name}", flush=True)
    return _run(settings, demo, loglevel, log_file)  # the file stays open: faust writes at exit


def _run(settings: Settings, demo: bool, loglevel: str, log_file: TextIO | None) -> int:
    logs.configure(loglevel, stream=log_file)
    from engine.rules.loader import load_ruleset

    result = load_ruleset(settings.rules)
    for err in result.errors:
        print(err, file=sys.stderr)
    if result.ruleset is None:
        print(f"{settings.rules}: rules refused; the engine did not start", file=sys.stderr)
        return 1
    for warning in result.warnings:
        log.warning("rules warning", detail=warning)
    rules = result.ruleset
    log.info("core", runs=native.describe())  # compiled with mypyc, or the sources and why

    broker = None
    if settings.broker is None:
        from engine.agents import tansu
        from engine.agents.broker import EmbeddedBroker

        broker = EmbeddedBroker(log_file=settings.data_dir / "broker.log").start()
        settings = settings.override(broker=broker.url, embedded=True)
        tansu.install()
    elif settings.broker_quirks == "tansu":
        from engine.agents import tansu

        tansu.install()
    try:
        return _serve(settings, rules, demo, loglevel, log_file)
    finally:
        if broker is not None:
            broker.stop()


def _serve(settings: Settings, rules: Any, demo: bool, loglevel: str,
           log_file: TextIO | None) -> int:
    import faust

    from engine.agents import faults
    from engine.agents.app import build_engine
    from engine.agents.topics import ensure_topics

    demo_clock = None
    if demo:
        from engine.agents.demo import demo_clock as make_demo_clock

        demo_clock = make_demo_clock(DEMO_SPEED)
    clock: Clock = demo_clock or SystemClock()
    demo_runner = None

    engine = build_engine(settings, rules, clock=clock,
                          crash_after_write=faults.crash_after_write(),
                          send_delay=faults.send_delay())
    ensure_topics(settings.kafka_python_config(), engine.all_topics(), settings.partitions,
                  settings.replication_factor, compacted=[engine.changelog])
    where = "embedded broker" if settings.embedded else "broker"
    print(f"whistle: {where} at {settings.broker}", flush=True)
    print(f"whistle: rules {settings.rules} (version {rules.version})", flush=True)
    web = f"http://{settings.web_host}:{settings.web_port}"
    print(f"whistle: operator page at {web}/ (who holds what; JSON at {web}/api/issues)",
          flush=True)
    print(f"whistle: metrics at {web}/metrics (health /healthz, readiness /readyz)", flush=True)
    if demo:
        from engine.agents.demo import Demo

        assert demo_clock is not None
        demo_runner = Demo(settings.kafka_python_config(), engine.topics, rules, demo_clock,
                           sys.stdout,
                           metrics_url=f"http://{settings.web_host}:{settings.web_port}/metrics",
                           ready_url=f"http://{settings.web_host}:{settings.web_port}/readyz")
        print(f"whistle: demo traffic on a clock {DEMO_SPEED:.0f}x faster than real time, "
              "from when the engine is ready; a summary every 5 s; Ctrl-C to stop", flush=True)
        demo_runner.start()
    # faust logs to stdout unless told a file; its start-up spinner writes to its stdout
    quiet: dict[str, Any] = {} if log_file is None else {"logfile": log_file.name,
                                                          "stdout": log_file}
    tune_gc()
    worker = faust.Worker(engine.app, loglevel="warning" if loglevel == "info" else loglevel,
                          quiet=True, **quiet)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        if demo_runner is not None:
            demo_runner.stop()
    return 0
