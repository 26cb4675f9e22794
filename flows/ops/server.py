"""A local Prefect server and process worker (127.0.0.1, SQLite under Sluice's data folder).

The server requires its API auth string (flows/ops/local_auth.py), takes cross-origin requests
only from its own UI and checks CSRF tokens, so neither another local user nor a web page can
drive the worker. Stopping it stops everything it started, whatever signal `sluice server` got.
"""

from __future__ import annotations

import contextlib
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
from types import FrameType

from flows.errors import SluiceError
from flows.ops import local_auth

WORK_POOL = "sluice"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Local:
    """Where a local Prefect server lives, and the auth string its clients send."""

    home: Path
    port: int
    auth: str

    @classmethod
    def at(cls, home: Path, port: int) -> Local:
        """The server of home on port; its auth string kept in home's profile sluice-local."""
        return cls(home, port, local_auth.auth_string(home, f"http://127.0.0.1:{port}/api"))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for worker and CLI processes talking to this server."""
        env = dict(os.environ)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_API_AUTH_STRING=self.auth,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
        )
        env.update(extra or {})
        return env

    def server_env(self) -> dict[str, str]:
        """The server's own: its auth string, CORS for its UI only, CSRF protection."""
        origins = f"http://127.0.0.1:{self.port},http://localhost:{self.port}"
        return self.env(
            {
                "PREFECT_SERVER_API_AUTH_STRING": self.auth,
                "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "true",
                "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": origins,
            }
        )


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
            env=local.server_env(),
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


def _signal(group: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, number)


def stop(process: subprocess.Popen[bytes], grace: float = 5, *, graceful: bool = True) -> None:
    """Stop a server or worker started in a session of its own, and all it started: SIGINT to
    its process group (not when `graceful` is off), SIGTERM if it still runs `grace` seconds
    later, then SIGKILL; then any process left in its session (one that left the group, e.g. a
    flow run's)."""
    first = signal.SIGINT if graceful else signal.SIGTERM
    for number in dict.fromkeys((first, signal.SIGTERM, signal.SIGKILL)):
        if process.poll() is not None:
            break
        _signal(process.pid, number)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    process.wait()
    left = [m for m in local_auth.session_members(process.pid) if m != process.pid]
    for member in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:  # SIGKILL is delivered asynchronously
        time.sleep(0.05)
        left = [m for m in left if local_auth.alive(m)]


class _Stop(Exception):
    """A signal asked `sluice server` to stop."""


def _stop_now(number: int, frame: FrameType | None) -> None:
    for other in _STOP_SIGNALS:  # once: a second Ctrl-C must not cut the stopping short
        signal.signal(other, signal.SIG_IGN)
    raise _Stop(signal.Signals(number).name)


def serve(local: Local, logs: Path, worker_env: dict[str, str]) -> None:
    """Run the server and a worker until SIGINT (Ctrl-C), SIGTERM or SIGHUP, then stop both
    with everything they started. The signals are handled even where they were ignored (a
    background job of a shell), and a second one does not cut the stopping short."""
    previous = {number: signal.signal(number, _stop_now) for number in _STOP_SIGNALS}
    api = worker = None
    try:
        api = start_server(local, logs / "prefect-server.log")
        wait_healthy(local, api)
        ensure_work_pool(local)
        worker = start_worker(local, logs / "prefect-worker.log", worker_env)
        local_auth.record(local.home, local.api_url, api.pid)
        print(
            f"Prefect UI and API on {local.api_url[:-4]}; its API auth string is in "
            f"{local_auth.profiles_file(local.home)} (profile {local_auth.PROFILE}, readable "
            f"by you only); worker on pool {WORK_POOL}; logs in {logs}. Ctrl-C stops both.",
            flush=True,
        )
        while (gone := _exited(api, worker)) is None:
            pass
        raise SluiceError(f"the Prefect {gone} stopped by itself: see its log in {logs}")
    except _Stop:
        pass
    finally:
        for number in _STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        local_auth.forget(local.home)
        for process in (worker, api):
            if process is not None:
                stop(process)
        for number, handler in previous.items():
            signal.signal(number, handler)


def _exited(api: subprocess.Popen[bytes], worker: subprocess.Popen[bytes]) -> str | None:
    """Which of the two exited, after waiting up to a second for the server."""
    try:
        api.wait(timeout=1)
        return "server"
    except subprocess.TimeoutExpired:
        return "worker" if worker.poll() is not None else None
