"""Hot reload of the rule files: file watch, SIGHUP and ``POST /-/reload``.

Every reload goes through the same loader as ``whistle rules check``. A directory with any error
is refused as a whole: the running version stays, every error is logged with its file:line:col,
and ``whistle_rules_reloads_total{result="failure"}`` counts it. A valid one replaces the rule
set in one assignment (decisions read it once each), and ``whistle_rules_info{version}`` shows
the new content hash, so workers reading the same files agree on the version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from engine.agents.metrics import Metrics
from engine.domain.ruleset import Ruleset
from engine.rules.loader import load_ruleset

log = structlog.get_logger("whistle.rules")


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    version: str
    changed: bool
    errors: tuple[str, ...] = ()


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the rule files: cheap change detection."""
    out = []
    for path in sorted(directory.glob("*.y*ml")):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


class RulesHolder:
    def __init__(self, directory: Path, ruleset: Ruleset, metrics: Metrics) -> None:
        self.directory = directory
        self._ruleset = ruleset
        self.metrics = metrics
        self._lock = threading.Lock()
        self._seen = fingerprint(directory)
        metrics.set_rules_version(ruleset.version)
        metrics.init_series(ruleset.registry, ruleset.categories, ruleset.points)

    def current(self) -> Ruleset:
        return self._ruleset

    def reload(self, trigger: str) -> ReloadResult:
        with self._lock:
            self._seen = fingerprint(self.directory)
            result = load_ruleset(self.directory)
            if result.ruleset is None:
                errors = tuple(str(e) for e in result.errors)
                self.metrics.rules_reloads.labels(result="failure").inc()
                log.error("rules reload refused; the running version stays", trigger=trigger,
                          running=self._ruleset.version, errors=list(errors))
                return ReloadResult(False, self._ruleset.version, False, errors)
            new = result.ruleset
            changed = new.version != self._ruleset.version
            self._ruleset = new  # one assignment: each decision reads the holder once
            self.metrics.rules_reloads.labels(result="success").inc()
            self.metrics.set_rules_version(new.version)
            self.metrics.init_series(new.registry, new.categories, new.points)
            for warning in result.warnings:
                log.warning("rules warning", detail=warning)
            log.info("rules reloaded", trigger=trigger, version=new.version, changed=changed)
            return ReloadResult(True, new.version, changed)

    def poll(self) -> ReloadResult | None:
        """Reload if the files changed since the last look (the file watch)."""
        if fingerprint(self.directory) == self._seen:
            return None
        return self.reload("file watch")
