"""The temporary Prefect server of a flow command: started before Prefect is imported, on
127.0.0.1, answering, and gone when the command ends, by exit or by SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from flows.cli.environment import OFFLINE_ENV
from flows.ops.server import healthy
from flows.settings import PROJECT_DIR
from tests.e2e.test_servers_bind_loopback import listening_addresses

pytestmark = pytest.mark.slow

# The command's side: start the server, say what is imported, wait for it, then hold until
# stdin closes (a normal exit, atexit included) or the test kills the process. With a second
# argument, the first port it picks is that one (which another process holds).
_COMMAND = """
import sys
from pathlib import Path
from flows.ops import temporary_server
if len(sys.argv) > 2:
    picks = iter([int(sys.argv[2])])
    free_port = temporary_server._free_port
    temporary_server._free_port = lambda: next(picks, None) or free_port()
server = temporary_server.TemporaryServer(Path(sys.argv[1]))
print("prefect" in sys.modules, server.port, flush=True)
print(server.wait(), server.process.pid, flush=True)
sys.stdin.read()
"""


def _ended(pid: int) -> bool:
    """Whether the process has ended (gone, or a zombie nobody has reaped yet)."""
    status = Path(f"/proc/{pid}/status")
    try:
        state = next(line for line in status.read_text().splitlines() if line.startswith("State"))
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "zombie" in state


def _wait_ended(pid: int, within: float = 30) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _ended(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize(
    ("ending", "port_taken"), [("exit", False), ("SIGKILL", False), ("exit", True)]
)
def test_the_temporary_server_answers_on_loopback_and_ends_with_its_command(
    tmp_path: Path, ending: str, port_taken: bool
) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    migrated = PROJECT_DIR / "data" / "prefect" / "prefect.db"  # by `make install`
    if migrated.exists():  # else the server migrates a new one first (the timeout allows it)
        # a consistent copy, whether or not another process is using it
        with (
            closing(sqlite3.connect(migrated)) as source,
            closing(sqlite3.connect(home / "prefect.db")) as copy,
        ):
            source.backup(copy)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    holder = socket.socket()  # bound, not listening: the server's bind fails, nothing answers
    holder.bind(("127.0.0.1", 0))
    taken = [str(holder.getsockname()[1])] if port_taken else []
    command = subprocess.Popen(
        [sys.executable, "-c", _COMMAND, str(home), *taken],
        cwd=PROJECT_DIR,
        env={**env, **OFFLINE_ENV, "PREFECT_HOME": str(home)},  # the CLI's start-up timeout
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert command.stdin is not None and command.stdout is not None
    server_pid = 0
    try:
        imported, first_port = command.stdout.readline().split()
        api_url, pid = command.stdout.readline().split()
        server_pid = int(pid)
        assert imported == "False"  # the server starts before this process imports Prefect
        port = int(api_url.removeprefix("http://127.0.0.1:").removesuffix("/api"))
        if port_taken:  # the first server could not bind: another one started on a free port
            assert taken == [first_port] and port != int(first_port)
        assert healthy(api_url)
        assert listening_addresses(port) == {"127.0.0.1"}
        if ending == "exit":
            command.stdin.close()
        else:
            command.send_signal(signal.SIGKILL)
        command.wait(timeout=60)
        assert _wait_ended(server_pid), f"the server (pid {server_pid}) outlived its command"
        assert not healthy(api_url)
    finally:
        holder.close()
        command.kill()
        command.wait()
        if server_pid and not _ended(server_pid):
            os.kill(server_pid, signal.SIGKILL)


_BLOCK_TABLES = (
    "block_document_reference",
    "block_document",
    "block_schema_reference",
    "block_schema",
    "block_type",
)


def test_the_temporary_server_stops_at_once_and_the_next_one_reads_what_it_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's exit stops its server with SIGTERM, as Prefect stops its own temporary
    server (a graceful SIGINT waits about 2 s for nothing the command needs), and the next
    server on the same PREFECT_HOME finds every record the first one acknowledged. Neither
    registers Prefect's block types, for which its start imported every installed Prefect
    collection first: its database holds none afterwards."""
    import httpx

    from flows.ops.temporary_server import TemporaryServer

    home = tmp_path / "prefect-home"
    home.mkdir()
    migrated = PROJECT_DIR / "data" / "prefect" / "prefect.db"  # by `make install`
    if migrated.exists():
        with (
            closing(sqlite3.connect(migrated)) as source,
            closing(sqlite3.connect(home / "prefect.db")) as copy,
        ):
            source.backup(copy)
            for table in _BLOCK_TABLES:  # as `make install` leaves them, whatever ran since
                copy.execute(f"delete from {table}")  # our own table names
            copy.commit()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    for name, value in {**OFFLINE_ENV, "PREFECT_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    first = TemporaryServer(home)
    try:
        api = first.wait()
        flow = httpx.post(f"{api}/flows/", json={"name": "sluice-probe"}, timeout=30)
        run = httpx.post(
            f"{api}/flow_runs/",
            json={"flow_id": flow.json()["id"], "name": "probe-run"},
            timeout=30,
        )
        assert run.status_code == 201, run.text
    finally:
        first.stop()
    assert first.process.returncode == -signal.SIGTERM  # not a graceful stop: no wait for it
    second = TemporaryServer(home)
    try:
        found = httpx.get(f"{second.wait()}/flow_runs/{run.json()['id']}", timeout=30)
        assert found.status_code == 200 and found.json()["name"] == "probe-run"
    finally:
        second.stop()
    with closing(sqlite3.connect(home / "prefect.db")) as database:
        assert database.execute("select count(*) from block_type").fetchone() == (0,)
