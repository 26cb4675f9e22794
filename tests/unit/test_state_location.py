"""SLUICE_STATE is a SQLite file (a path, or sqlite:///path) or a PostgreSQL URL; any other URL is
refused by its scheme, never created as a file under a relative path, and a password never
reaches a message, a repr or stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli.main import main
from flows.errors import InvalidParameter
from flows.settings import get_settings
from flows.state.location import DatabaseUrl

PASSWORD = "do-not-echo-0815"
URL = f"postgresql+psycopg://sluice:{PASSWORD}@db.internal:5432/state"


def test_a_postgresql_url_is_a_database_whose_password_is_never_shown(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("SLUICE_STATE", URL)
    settings = get_settings()
    assert settings.state == DatabaseUrl(URL)
    assert str(settings.state) == "postgresql+psycopg://sluice:***@db.internal:5432/state"
    assert repr(settings.state) == (
        "DatabaseUrl('postgresql+psycopg://sluice:***@db.internal:5432/state')"
    )
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert settings.state_dir == settings.project_dir / "data"
    assert settings.reports_dir == settings.project_dir / "data" / "reports"
    assert list(tmp_path.iterdir()) == []


def test_postgresql_without_a_driver_is_psycopg(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SLUICE_STATE", "postgresql://sluice@/state?host=/run/postgresql")
    wanted = "postgresql+psycopg://sluice@/state?host=/run/postgresql"
    assert get_settings().state == DatabaseUrl(wanted)
    assert str(get_settings().state) == wanted


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        (
            f"mysql://root:{PASSWORD}@localhost/state",
            "state: Value error, mysql://… is not a state store: give a path (a SQLite file, "
            "the embedded default) or a postgresql+psycopg://user:password@host:port/database "
            "URL (several workers)",
        ),
        (f"sqlite://{PASSWORD}", "state: Value error, sqlite://… is not a state store"),
        ("sqlite:///:memory:", "state: Value error, sqlite://… is not a state store"),
        (
            f"postgresql+psycopg://sluice:{PASSWORD}@db.internal:5432",
            "state: Value error, postgresql+psycopg://… names no database",
        ),
        (
            f"postgresql+psycopg://sluice:pass/{PASSWORD}@db.internal/state",
            "state: Value error, postgresql+psycopg://… is not a valid URL (a password with '/', "
            "'#', '?' or '@' must be percent-encoded)",
        ),
        (f"sluice:{PASSWORD}@db://state", "state: Value error, the URL is not a state store"),
    ],
    ids=["mysql", "sqlite-no-path", "sqlite-memory", "no-database", "bad-port", "no-scheme"],
)
def test_any_other_url_is_refused_naming_its_scheme_only(
    url: str, refusal: str, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("SLUICE_STATE", url)
    with pytest.raises(InvalidParameter) as refused:
        get_settings()
    message = str(refused.value)
    assert refusal in message
    assert PASSWORD not in message
    assert list(tmp_path.iterdir()) == []  # no file named after the URL


@pytest.mark.parametrize(
    ("command", "url", "said"),
    [
        ("status", f"mysql://sluice:{PASSWORD}@db/state", "mysql://… is not a state store"),
        # port 1 of the loopback: nothing listens, the connection is refused at once
        (
            "incidents",
            f"postgresql+psycopg://sluice:{PASSWORD}@127.0.0.1:1/state",
            'OperationalError: connection failed: connection to server at "127.0.0.1", port 1',
        ),
    ],
    ids=["refused-scheme", "unreachable-server"],
)
def test_the_command_line_says_so_in_one_line_without_the_password(
    command: str,
    url: str,
    said: str,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("SLUICE_STATE", url)
    assert main([command]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err
    assert PASSWORD not in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("given", ["sqlite:///ops/state.sqlite", "ops/state.sqlite"])
def test_a_path_stays_a_sqlite_file(
    given: str, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("SLUICE_STATE", given)
    assert get_settings().state == tmp_path / "ops" / "state.sqlite"
    assert get_settings().reports_dir == tmp_path / "ops" / "reports"


def test_an_absolute_sqlite_url_keeps_its_root(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SLUICE_STATE", f"sqlite:///{tmp_path}/ops/state.sqlite")
    assert get_settings().state == tmp_path / "ops" / "state.sqlite"
