"""Secret values never reach an error message or a log: a secret put in sluice.toml, and the
Slack webhook URL (it holds a token) when it is malformed or its request fails."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from flows.alerts.incidents import Incident, Kind, Severity
from flows.alerts.notifier import Notifier
from flows.cli.main import main
from flows.errors import InvalidParameter
from flows.settings import NotifySettings, Secrets, get_settings

SECRET_TEXT = "do-not-echo-4711"
NOW = datetime(2026, 11, 4, tzinfo=UTC)


@pytest.fixture()
def bad_config(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "sluice.toml"
    config.write_text(f'lease_seconds = 3\nsmtp_password = "{SECRET_TEXT}"\n')
    clean_env.setenv("SLUICE_CONFIG", str(config))
    return config


def test_a_secret_in_sluice_toml_is_named_never_echoed(bad_config: Path) -> None:
    with pytest.raises(InvalidParameter) as refused:
        get_settings()
    message = str(refused.value)
    assert SECRET_TEXT not in message
    assert message == (
        f"settings in {bad_config} or SLUICE_* env vars: lease_seconds: Input should be greater "
        "than or equal to 10; smtp_password is a secret: set SLUICE_SMTP_PASSWORD in the "
        "environment, never in the file"
    )
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_the_command_line_prints_one_line_without_the_secret(
    bad_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert SECRET_TEXT not in err
    assert err.count("\n") == 1 and err.startswith("sluice: error: settings in ")


@pytest.mark.parametrize(
    "url",
    [
        f"hooks.slack.com/services/T000/B000/{SECRET_TEXT}",  # no scheme
        f"https://127.0.0.1:1/services/T000/B000/{SECRET_TEXT} ",  # a space: http.client quotes it
        f"http://127.0.0.1:1/services/T000/B000/{SECRET_TEXT}",  # nothing listens there
    ],
)
def test_a_failing_slack_url_is_never_logged(url: str, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_settings(
        NotifySettings(attempts=2, backoff_seconds=0), Secrets(slack_webhook_url=url)
    )
    incident = Incident(
        id="i1", kind=Kind.STEP_FAILED, severity=Severity.CRITICAL, status="open",
        partition=date(2026, 11, 3), layer="raw", what="landing", first_seen=NOW, last_seen=NOW,
        count=1,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="sluice.incidents"):
        assert notifier.notify(incident) == {"slack": False}
    assert "gave up" in caplog.text and "SLUICE_SLACK_WEBHOOK_URL" in caplog.text
    assert SECRET_TEXT not in caplog.text and "T000/B000" not in caplog.text
