"""``whistle run --demo`` makes its point within a minute: 60 s after the start its live
summary shows whistles, department reports on time, late and missed, a report rate by
department, reopens and closures, and the terminal carries no JSON log line. The simulated
units act only on issues they hold: the engine counts no event that does not fit."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from engine.agents.broker import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

COUNTS = {
    "whistles": r"whistles (\d+)",
    "on time": r"department reports on time (\d+)",
    "late": r", late (\d+)",
    "missed": r", missed (\d+)",
    "reopened": r"reopened (\d+)",
    "closed": r"closed (\d+)",
}


def is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_the_demo_shows_the_loop_within_a_minute(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    port = free_port()
    env.update(WHISTLE_WEB_PORT=str(port), WHISTLE_DATA_DIR=str(tmp_path / "data"))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", "--demo"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=s, into=into: into.extend(s), daemon=True)
               for s, into in ((proc.stdout, out), (proc.stderr, err))]
    for r in readers:
        r.start()
    time.sleep(max(0.0, 60 - (time.monotonic() - started)))
    within = list(out)  # what the terminal showed in the first minute
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        metrics = r.read().decode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=15) as r:
        page = r.read().decode()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    for r in readers:
        r.join(timeout=5)

    text = "".join(within)
    summaries = [line for line in within if line.startswith("[demo ")]
    assert summaries, text
    last = summaries[-1]
    for name, pattern in COUNTS.items():
        m = re.search(pattern, last)
        assert m is not None and int(m.group(1)) > 0, f"{name} is 0 at 60 s:\n{text}"
    rates = [line for line in within if "report rate" in line]
    assert re.search(r"\w+ \d+% \(\d+/\d+\)", rates[-1]), rates[-1]
    assert "/metrics" in text and "logs (JSON lines" in text, text
    assert f"operator page at http://127.0.0.1:{port}/ " in text, text
    assert "<h1>Whistle" in page and 'data-section="report"' in page, page[:2000]
    assert not [line for line in out if is_json(line)], text
    assert not [line for line in err if is_json(line)], "".join(err)
    unfit = re.findall(r'^whistle_events_total\{[^}]*result="unfit"[^}]*\} (\S+)$', metrics,
                       re.M)
    assert sum(float(v) for v in unfit) == 0, [m for m in metrics.splitlines() if "unfit" in m]
