"""The worker's log level applies to structlog too: lines below it are never rendered."""

from __future__ import annotations

import logging

import pytest
import structlog

from engine.agents import logs


@pytest.fixture(autouse=True)
def _restore() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level


def test_lines_below_the_level_are_not_rendered(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("warning")
    log = structlog.get_logger("whistle.test")
    log.debug("event did not fit", issue_id="X1", reason="not_holder")
    log.info("event rejected", reason="invalid_json")
    log.warning("calendar data exhausted", issue_id="X1")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and '"calendar data exhausted"' in err[0] and '"warning"' in err[0]


def test_debug_level_renders_debug_lines(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("debug")
    structlog.get_logger("whistle.test").debug("event did not fit", issue_id="X1")
    assert '"event did not fit"' in capsys.readouterr().err
