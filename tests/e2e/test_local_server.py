"""`sluice server` on a real Prefect server on 127.0.0.1 (free ports): its API refuses requests
without its auth string, takes cross-origin requests only from its own UI and checks CSRF
tokens; a `sluice` command sends the string only to the server `sluice server` started; and
SIGTERM, Ctrl-C on `make serve`, or SIGINT to a `sluice server` in the background stops server
and worker, leaving nothing running or listening."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.ops import local_auth
from flows.settings import PROJECT_DIR
from tests.e2e.test_servers_bind_loopback import listening_addresses
from tests.integration.receivers import http_receiver

pytestmark = pytest.mark.slow
SLUICE = str(Path(sys.executable).with_name("sluice"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Started:
    """A running `sluice server` (or what started it), what it printed, and its processes."""

    process: subprocess.Popen[str]
    home: Path
    port: int
    printed: str
    pids: dict[int, str]  # its processes once server and worker run

    def processes(self) -> dict[int, str]:
        """pid -> command line of every process descending from the one started."""
        parents: dict[int, int] = {}
        commands: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                parents[int(entry.name)], commands[int(entry.name)] = int(fields[1]), command
        found, frontier = {}, {self.process.pid}
        while frontier:
            children = {pid for pid, parent in parents.items() if parent in frontier}
            found.update({pid: commands[pid] for pid in children})
            frontier = children
        return found

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/api{path}"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill_all(started: Started) -> None:
    for pid in [started.process.pid, *started.pids]:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _start(tmp_path: Path, how: str) -> Started:
    home, port = tmp_path / "prefect-home", _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(
        PREFECT_HOME=str(home),
        SLUICE_PROJECT_DIR=str(tmp_path),  # its logs go to tmp_path/data/logs
        SLUICE_STATE=str(tmp_path / "state.sqlite"),
        SLUICE_DUCKDB=str(tmp_path / "warehouse.duckdb"),
        SLUICE_LAKE=str(tmp_path / "lake"),
    )
    command = {
        "sluice": [SLUICE, "server", "--port", str(port)],
        "make": ["make", "-s", "serve", f"PREFECT_PORT={port}"],
        # a shell's background job starts with SIGINT ignored
        "background": ["bash", "-c", f"{SLUICE} server --port {port} & wait"],
    }[how]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    printed = process.stdout.readline()  # printed once server and worker run
    started = Started(process, home, port, printed, {})
    started.pids = started.processes()
    assert "Ctrl-C stops both" in printed, printed
    return started


@pytest.fixture()
def started(tmp_path: Path) -> Iterator[Started]:
    running = _start(tmp_path, "sluice")
    try:
        yield running
    finally:
        _kill_all(running)


def _request(url: str, auth: str | None = None, **options: object) -> tuple[int, dict[str, str]]:
    headers = dict(options.pop("headers", {}) or {})  # type: ignore[call-overload]
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(url, headers=headers, **options)  # type: ignore[arg-type]
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}
    except urllib.error.HTTPError as refused:
        return refused.code, {k.lower(): v for k, v in refused.headers.items()}


def _stopped(started: Started) -> None:
    """What must hold once a stop signal was sent: it exits, nothing runs or listens."""
    started.process.wait(timeout=120)  # a hang guard, not a timing assertion
    processes = started.pids
    assert any("server start" in c for c in processes.values()), processes
    assert any("worker start" in c for c in processes.values()), processes
    assert [c for pid, c in processes.items() if _alive(pid)] == []
    assert listening_addresses(started.port) == set()
    assert not (started.home / local_auth.RECORD_FILE).exists()


def test_the_api_needs_its_auth_string_and_the_cli_sends_it_to_that_server_only(
    started: Started, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an unauthenticated request is refused; an authenticated one works
    assert _request(started.url("/admin/version"))[0] == 401
    profiles = local_auth.profiles_file(started.home)
    auth = local_auth.running(started.home)
    assert auth is not None and auth.api_url == started.url("")
    assert _request(started.url("/admin/version"), auth.auth)[0] == 200
    assert _request(started.url("/admin/version"), "sluice:guessed")[0] == 401
    # its path is printed, never the string; only its owner may read it
    assert str(profiles) in started.printed and auth.auth not in started.printed
    assert stat.S_IMODE(profiles.stat().st_mode) == 0o600
    # a state-changing request needs a CSRF token too (a web page cannot get one)
    filter_flows = {
        "method": "POST",
        "data": b"{}",
        "headers": {"Content-Type": "application/json"},
    }
    assert _request(started.url("/flows/filter"), auth.auth, **filter_flows)[0] == 403
    # cross-origin requests: only from the server's own UI
    for origin, allowed in (
        ("http://evil.example", False),
        (f"http://127.0.0.1:{started.port}", True),
    ):
        status, headers = _request(
            started.url("/flows/filter"),
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert (status == 200 and headers.get("access-control-allow-origin") == origin) is allowed

    # a `sluice` command uses this server, with its auth string ...
    from flows.cli.main import _prefer_local_server

    monkeypatch.setenv("PREFECT_HOME", str(started.home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    assert _prefer_local_server()
    assert os.environ["PREFECT_API_URL"] == auth.api_url
    assert os.environ["PREFECT_API_AUTH_STRING"] == auth.auth
    # ... and never sends it to another process answering where the record points
    record = started.home / local_auth.RECORD_FILE
    noted = json.loads(record.read_text())
    with http_receiver() as impostor:
        record.write_text(json.dumps({**noted, "api_url": f"http://127.0.0.1:{impostor.port}/api"}))
        monkeypatch.delenv("PREFECT_API_URL")
        monkeypatch.delenv("PREFECT_API_AUTH_STRING")
        assert not _prefer_local_server()
        assert "PREFECT_API_AUTH_STRING" not in os.environ and impostor.posts == []
    record.write_text(json.dumps(noted))

    started.process.send_signal(signal.SIGTERM)
    _stopped(started)


@pytest.mark.parametrize("how", ["sigterm", "make", "background"])
def test_a_stop_signal_stops_server_and_worker(tmp_path: Path, how: str) -> None:
    started = _start(tmp_path, "sluice" if how == "sigterm" else how)
    try:
        if how == "sigterm":
            started.process.send_signal(signal.SIGTERM)
        elif how == "make":  # Ctrl-C in a terminal: SIGINT to the foreground process group
            os.killpg(started.process.pid, signal.SIGINT)
        else:  # SIGINT to a `sluice server` that a shell started in the background
            (sluice,) = [pid for pid, c in started.pids.items() if f"{SLUICE} server" in c]
            os.kill(sluice, signal.SIGINT)
        _stopped(started)
    finally:
        _kill_all(started)
