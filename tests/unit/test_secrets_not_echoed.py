"""Secret values never reach an error message or a log: a secret put in sluice.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli.main import main
from flows.errors import InvalidParameter
from flows.settings import get_settings

SECRET = "xoxb-do-not-echo-4711"


@pytest.fixture()
def bad_config(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "sluice.toml"
    config.write_text(f'lease_seconds = 3\nsmtp_password = "{SECRET}"\n')
    clean_env.setenv("SLUICE_CONFIG", str(config))
    return config


def test_a_secret_in_sluice_toml_is_named_never_echoed(bad_config: Path) -> None:
    with pytest.raises(InvalidParameter) as refused:
        get_settings()
    message = str(refused.value)
    assert SECRET not in message
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
    assert SECRET not in err
    assert err.count("\n") == 1 and err.startswith("sluice: error: settings in ")
