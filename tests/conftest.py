"""Shared fixtures: one small generated lake per session, warehouses in temp folders."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.cli.environment import apply_offline_defaults, without_heartbeats
from tests.support import DAYS, EVENTS_PER_DAY, SEED, START, settings_for

# Tests never touch the developer's data/: Prefect's home goes to a throwaway folder.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="sluice-prefect-home-")
# Tests call the pipeline's tasks outside a flow run as well: nothing to send to the API then.
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
# ... nor a developer's sluice.toml (notification sinks, retention): tests configure their own.
os.environ["SLUICE_CONFIG"] = os.devnull
apply_offline_defaults()


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated lake of DAYS days (read-only for tests: copy it to change it)."""
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec

    root = tmp_path_factory.mktemp("lake")
    generate_lake(root, LakeSpec(start=START, days=DAYS, events_per_day=EVENTS_PER_DAY, seed=SEED))
    return root


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A throwaway Prefect API for the session, so flows and tasks run as in production."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120), without_heartbeats():
        yield


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Clears the cached settings before and after a test that changes SLUICE_* variables."""
    from flows.settings import get_settings

    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real dbt project parsed once (lake tables, layers, lateness)."""
    from flows.project.dbt_runner import DbtProject
    from flows.project.manifest import build_project

    settings = settings_for(
        tmp_path_factory.mktemp("parse-lake"), tmp_path_factory.mktemp("parse") / "w.duckdb"
    )
    dbt = DbtProject(settings)
    return build_project(dbt.manifest, settings.project_dir)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL server for this worker's session (tools/postgres_server.py)."""
    from tools.postgres_server import running

    with running() as server:
        yield server


@pytest.fixture()
def postgres_url(postgres: Any) -> Iterator[Any]:
    """A fresh, empty database of the session's server, dropped after the test."""
    from flows.state.location import DatabaseUrl

    name = postgres.create_database()
    yield DatabaseUrl(postgres.url(name))
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Where a test's state store lives: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "state.sqlite"
    return request.getfixturevalue("postgres_url")
