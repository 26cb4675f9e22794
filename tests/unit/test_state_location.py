"""SLUICE_STATE is a SQLite file: a database URL is refused by name, never created as a file
under a relative path, and its password never reaches the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli.main import main
from flows.errors import InvalidParameter
from flows.settings import get_settings

PASSWORD = "do-not-echo-0815"


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        (f"postgresql+psycopg://sluice:{PASSWORD}@db.internal:5432/state", "postgresql+psycopg"),
        (f"mysql://root:{PASSWORD}@localhost/state", "mysql"),
        ("sqlite:///data/state.sqlite", "sqlite"),
    ],
)
def test_a_database_url_is_refused_naming_its_scheme_only(
    url: str, scheme: str, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("SLUICE_STATE", url)
    with pytest.raises(InvalidParameter) as refused:
        get_settings()
    message = str(refused.value)
    assert f"state: Value error, {scheme}://… is a URL, and the state store is a SQLite file" in (
        message
    )
    assert PASSWORD not in message
    assert list(tmp_path.iterdir()) == []  # no file named after the URL


def test_the_command_line_says_so_in_one_line(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("SLUICE_STATE", f"postgresql+psycopg://sluice:{PASSWORD}@db/state")
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "postgresql+psycopg://… is a URL" in err
    assert PASSWORD not in err and list(tmp_path.iterdir()) == []


def test_a_path_stays_a_sqlite_file(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SLUICE_STATE", str(tmp_path / "ops" / "state.sqlite"))
    assert get_settings().state == tmp_path / "ops" / "state.sqlite"
