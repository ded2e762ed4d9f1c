"""Settings are checked at startup: a wrong value stops the worker with a clear message."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.agents.settings import Settings, SettingsError
from engine.cli import main


def test_defaults_are_valid_and_topics_come_from_the_prefix() -> None:
    s = Settings.from_env({"WHISTLE_TOPIC_PREFIX": "xs.", "WHISTLE_APP_ID": "w1"})
    assert s.topics.events == "xs.issues.events" and s.topics.ticks == "xs.whistle.ticks"
    assert s.changelog == "w1-issues-changelog"
    assert (s.batch_max, s.batch_within, s.delivery_attempts) == (500, 0.05, 5)
    assert (s.retain_closed, s.remember_retired) == (timedelta(days=7), timedelta(days=90))


@pytest.mark.parametrize(("text", "seconds"), [
    ("7d", 7 * 86400), ("12h", 43200), ("30m", 1800), ("90s", 90), ("45", 45), ("1.5h", 5400),
])
def test_durations_take_a_unit_or_seconds(text: str, seconds: float) -> None:
    s = Settings.from_env({"WHISTLE_RETAIN_CLOSED": text})
    assert s.retain_closed == timedelta(seconds=seconds)


@pytest.mark.parametrize(("env", "message"), [
    ({"WHISTLE_PINNING": "follw"}, "WHISTLE_PINNING must be one of entry, follow (got 'follw')"),
    ({"WHISTLE_BATCH_MAX": "0"}, "WHISTLE_BATCH_MAX must be at least 1"),
    ({"WHISTLE_BATCH_MAX": "lots"}, "WHISTLE_BATCH_MAX: 'lots' is not a valid int"),
    ({"WHISTLE_TICK_SECONDS": "0"}, "WHISTLE_TICK_SECONDS must be more than 0"),
    ({"WHISTLE_SECURITY_PROTOCOL": "TLS"}, "WHISTLE_SECURITY_PROTOCOL must be one of"),
    ({"WHISTLE_RETAIN_CLOSED": "a week"},
     "WHISTLE_RETAIN_CLOSED: 'a week' is not a valid duration (e.g. 7d, 12h, 30m, 90s)"),
    ({"WHISTLE_RETAIN_CLOSED": "0d"}, "WHISTLE_RETAIN_CLOSED must be more than 0"),
    ({"WHISTLE_REMEMBER_RETIRED": "nan"}, "WHISTLE_REMEMBER_RETIRED: 'nan' is not a valid"),
])
def test_a_wrong_setting_is_refused_with_its_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_whistle_run_with_a_wrong_pinning_exits_2_before_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WHISTLE_PINNING", "sometimes")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "WHISTLE_PINNING must be one of entry, follow (got 'sometimes')" in err
