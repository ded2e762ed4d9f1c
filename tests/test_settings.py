"""Settings are checked at startup: a wrong value stops the worker with a clear message."""

from __future__ import annotations

import pytest

from engine.agents.settings import Settings, SettingsError
from engine.cli import main


def test_defaults_are_valid_and_topics_come_from_the_prefix() -> None:
    s = Settings.from_env({"WHISTLE_TOPIC_PREFIX": "xs.", "WHISTLE_APP_ID": "w1"})
    assert s.topics.events == "xs.issues.events" and s.topics.ticks == "xs.whistle.ticks"
    assert s.changelog == "w1-issues-changelog"
    assert (s.batch_max, s.batch_within, s.delivery_attempts) == (500, 0.05, 5)


@pytest.mark.parametrize(("env", "message"), [
    ({"WHISTLE_PINNING": "follw"}, "WHISTLE_PINNING must be one of entry, follow (got 'follw')"),
    ({"WHISTLE_BATCH_MAX": "0"}, "WHISTLE_BATCH_MAX must be at least 1"),
    ({"WHISTLE_BATCH_MAX": "lots"}, "WHISTLE_BATCH_MAX: 'lots' is not a valid int"),
    ({"WHISTLE_TICK_SECONDS": "0"}, "WHISTLE_TICK_SECONDS must be more than 0"),
    ({"WHISTLE_SECURITY_PROTOCOL": "TLS"}, "WHISTLE_SECURITY_PROTOCOL must be one of"),
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
