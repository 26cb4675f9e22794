"""A newcomer's first command: an empty PREFECT_HOME on a busy machine must not time out."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR

pytestmark = pytest.mark.slow

_BURN = "while True:\n    pass\n"


@pytest.fixture()
def busy_cpus() -> Iterator[None]:
    """Every core busy, as on the 2-core machine of a first `make demo` under load.

    CPU-bound processes top the machine's load up to one runnable process per core: run alone,
    that is one burner per core; inside `make test` (pytest's other worker and the BigQuery
    check already keep the cores busy) it adds fewer, instead of slowing the rest of the suite.
    """
    cores = os.cpu_count() or 2
    count = max(0, cores - int(os.getloadavg()[0]))
    burners = [subprocess.Popen([sys.executable, "-c", _BURN]) for _ in range(count)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _sluice(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_flow_command_with_a_new_prefect_home_under_cpu_load_succeeds(
    tmp_path: Path, busy_cpus: None
) -> None:
    # a home whose folders are not made yet (a checkout without `make install`, a moved
    # data folder): Prefect itself makes only the last folder of the path
    home = tmp_path / "data" / "prefect-home"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PREFECT_API_URL", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    }
    env.update(
        PREFECT_HOME=str(home),
        SLUICE_LAKE=str(tmp_path / "lake"),
        SLUICE_DUCKDB=str(tmp_path / "warehouse.duckdb"),
        SLUICE_STATE=str(tmp_path / "state.sqlite"),
    )
    # `retry` runs the retry-failed flow (so it needs a Prefect API) and, on an empty ledger,
    # nothing else: what is timed here is Prefect's first start on a new database.
    retried = _sluice(env, "retry")
    output = retried.stdout + retried.stderr
    assert retried.returncode == 0, output
    assert "Traceback" not in output
    assert "nothing to do" in output
    assert (home / "prefect.db").stat().st_size > 0


def test_a_prefect_server_that_cannot_start_in_time_is_one_clear_line(tmp_path: Path) -> None:
    # Too short for any first start (it migrates a new database): the server cannot make it.
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(
        # A deep home (CI's tmp paths are) must not push what to do off the line.
        PREFECT_HOME=str(tmp_path / ("prefect-home-" + "deep" * 50)),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1",
        SLUICE_LAKE=str(tmp_path / "lake"),
        SLUICE_DUCKDB=str(tmp_path / "warehouse.duckdb"),
        SLUICE_STATE=str(tmp_path / "state.sqlite"),
    )
    retried = _sluice(env, "retry")
    assert retried.returncode == 1
    assert "Traceback" not in retried.stderr, retried.stderr
    errors = [line for line in retried.stderr.splitlines() if line.startswith("sluice: error:")]
    assert len(errors) == 1, retried.stderr
    assert "did not start within 1 s" in errors[0]
    assert "make install" in errors[0] and "make serve" in errors[0]
