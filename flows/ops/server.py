"""A local Prefect server and process worker (127.0.0.1, SQLite under Sluice's data folder)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from flows.errors import SluiceError

WORK_POOL = "sluice"


@dataclass(frozen=True)
class Local:
    """Where a local Prefect server lives."""

    home: Path
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for server, worker and CLI processes talking to this server."""
        env = dict(os.environ)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
        )
        env.update(extra or {})
        return env


def _prefect(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("prefect")), *args]


def healthy(api_url: str, timeout: float = 2) -> bool:
    """True when a Prefect API answers its health check at api_url."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as answer:  # noqa: S310
            return bool(json.loads(answer.read()) is True)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_server(local: Local, log: Path) -> subprocess.Popen[bytes]:
    """Start `prefect server start` bound to 127.0.0.1, logging to a file."""
    local.home.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            _prefect("server", "start", "--host", "127.0.0.1", "--port", str(local.port)),
            env=local.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(local: Local, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Poll the health endpoint until the server answers (or fail naming the log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SluiceError(f"the Prefect server exited with code {process.returncode}")
        if healthy(local.api_url):
            return
        time.sleep(0.5)
    raise SluiceError(f"the Prefect server at {local.api_url} was not healthy after {timeout} s")


def ensure_work_pool(local: Local) -> None:
    """Create the process work pool the deployments use (idempotent)."""
    subprocess.run(
        _prefect("work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"),
        env=local.env(),
        check=True,
        capture_output=True,
    )


def start_worker(local: Local, log: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a process worker polling the Sluice work pool."""
    with log.open("ab") as out:
        return subprocess.Popen(
            _prefect("worker", "start", "--pool", WORK_POOL, "--type", "process"),
            env=local.env(extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop a server or worker with SIGINT (they ignore SIGTERM for long), then kill."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_temporary_server(home: Path) -> str:
    """Start Prefect's temporary API server for this process now; its API URL.

    The flows' Prefect client reuses it (one per process). Starting it here, rather than
    inside the first flow call, turns a server that cannot start into one clear error.
    """
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    timeout = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    temporary = SubprocessASGIServer()
    try:
        temporary.start()
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SluiceError(
            f"Prefect's temporary server (PREFECT_HOME={home}) did not start within "
            f"{timeout} s: {reason[:200]} — run `make install` (it migrates Prefect's database "
            "ahead), or start a server with `make serve` and run again"
        ) from exc
    return str(temporary.api_url)
