"""The operator's day against a real Prefect server and worker, with its API auth string: deploy
and `prefect deployment run` through the profile sluice-local, as `make deploy` and a scheduler
do."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from pathlib import Path

import duckdb
import pytest

from flows.ops import server
from flows.settings import PROJECT_DIR
from tests.support import START, truth

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_daily_deployment_runs_a_lake_day_on_a_real_server_and_worker(
    lake: Path, tmp_path: Path
) -> None:
    local = server.Local.at(tmp_path / "prefect-home", _free_port())
    sluice_env = {
        "SLUICE_PROJECT_DIR": str(PROJECT_DIR),
        "SLUICE_LAKE": str(lake),
        "SLUICE_DUCKDB": str(tmp_path / "warehouse.duckdb"),
        "SLUICE_STATE": str(tmp_path / "state.sqlite"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    # What `make deploy` and a scheduler have: PREFECT_HOME, not the API URL or auth string.
    profile_env = {
        key: value
        for key, value in local.env(sluice_env).items()
        if key not in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")
    }
    api = server.start_server(local, tmp_path / "server.log")
    worker = None
    try:
        server.wait_healthy(local, api)
        server.ensure_work_pool(local)
        profile = [str(Path(server._prefect()[0])), "--profile", "sluice-local"]
        deployed = subprocess.run(
            [*profile, "--no-prompt", "deploy", "--all"],
            cwd=PROJECT_DIR,
            env=profile_env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        worker = server.start_worker(local, tmp_path / "worker.log", sluice_env)
        run = subprocess.run(
            [*profile, "deployment", "run", "daily/daily", "--param", f"dt={START}", "--watch"],
            env=profile_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output + (tmp_path / "worker.log").read_text()
        assert "Completed" in output
    finally:
        if worker is not None:
            server.stop(worker)
        server.stop(api)

    with sqlite3.connect(tmp_path / "state.sqlite") as state:
        steps = state.execute(
            "select layer, status, rows_in from partition_attempts where dt = ? order by rowid",
            (START.isoformat(),),
        ).fetchall()
    expected = truth(lake, START)["lake"]
    lines = expected["events"]["lines"] + sum(t["rows"] for t in expected["dumps"].values())
    assert [(layer, status) for layer, status, _ in steps] == [
        ("raw", "succeeded"),
        ("dwh", "succeeded"),
        ("marts", "succeeded"),
    ]
    assert steps[0][2] == lines
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    kpi_days = con.execute("select count(distinct event_date) from marts.daily_kpis").fetchone()
    con.close()
    assert kpi_days == (1,)


def test_every_deployment_entrypoint_loads_the_way_prefect_deploy_loads_it() -> None:
    """`prefect deploy` loads each entrypoint as a script, its folder first on sys.path: a module
    there named like a package the flow imports (a `flows.py` beside it) would shadow it."""
    import yaml

    config = yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text())
    entrypoints = [d["entrypoint"] for d in config["deployments"]]
    assert len(entrypoints) == 5
    script = (
        "import sys\n"
        "from prefect.flows import load_flow_from_entrypoint\n"
        "for entrypoint in sys.argv[1:]:\n"
        "    print(entrypoint, load_flow_from_entrypoint(entrypoint).name)\n"
    )
    loaded = subprocess.run(
        [str(Path(server._prefect()[0]).with_name("python")), "-c", script, *entrypoints],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    names = [line.split()[-1] for line in loaded.stdout.splitlines()]
    assert names == ["daily", "backfill", "retry-failed", "watchdog", "janitor"]
