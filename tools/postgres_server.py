"""A throwaway PostgreSQL server for the tests and the BigQuery check: Debian's binaries (`make
postgres` installs them), a data folder under /tmp owned by the `postgres` user when run as
root, 127.0.0.1 on a free port (never 5432), a password login, and fresh databases on demand."""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

BINARIES = Path("/usr/lib/postgresql")
USER = "sluice"
# Durability is not what these tests prove: skip the disk flushes.
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"


def binaries() -> Path:
    """The newest installed server's bin folder; an error saying how to install one if none."""
    found = sorted(
        (p for p in BINARIES.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            f"PostgreSQL is not installed (no {BINARIES}/<version>/bin/initdb): run `make postgres`"
        )
    return found[-1]


def _as_server_user(command: list[str]) -> list[str]:
    """initdb refuses root: as root, run the server's commands as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A running server: URLs of its databases, and a fresh database when asked."""

    root: Path
    port: int
    password: str

    def url(self, database: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql+psycopg://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        )

    def create_database(self) -> str:
        name = f"t_{secrets.token_hex(6)}"
        with self._admin() as con:
            con.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as con:
            con.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def _run(command: list[str], log: Path) -> None:
    done = subprocess.run(
        _as_server_user(command), capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(command[:1])} failed: {done.stderr[-2000:]}{tail}")


@contextmanager
def running() -> Iterator[PostgresServer]:
    """Start a server in a new folder under /tmp; stop it and remove the folder at the end."""
    bin_dir = binaries()
    root = Path(tempfile.mkdtemp(prefix="sluice-pg-"))
    data, log, secret = root / "data", root / "server.log", root / "password"
    password = secrets.token_hex(16)
    secret.write_text(password)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, secret):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
    with _watchdog(stop, root):
        try:
            _run(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={secret}",
                 "-A", "scram-sha-256", "--no-locale", "-E", "UTF8", "--no-sync"],
                log,
            )  # fmt: skip
            port = _start(bin_dir, data, log, root)
            yield PostgresServer(root, port, password)
            _run(stop, log)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _start(bin_dir: Path, data: Path, log: Path, root: Path) -> int:
    """Start the server on a free port of 127.0.0.1 (its socket in root); the port."""
    for attempt in range(3):  # a free port may be taken before the server binds it
        port = _free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} {FAST}"
        try:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                  "-w", "-t", "60", "start"], log)  # fmt: skip
            return port
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextmanager
def _watchdog(stop: list[str], root: Path) -> Iterator[None]:
    """A process that stops the server and removes its folder once this one is gone, however it
    ends (a killed pytest runs no teardown): it waits for the end of a pipe only we hold."""
    script = (
        f"cat > /dev/null; {shlex.join(_as_server_user(stop))}; rm -rf {shlex.quote(str(root))}"
    )
    keeper = subprocess.Popen(
        ["sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C of the tests does not reach it first
    )
    try:
        yield
    finally:
        assert keeper.stdin is not None
        keeper.stdin.close()  # it finds the server stopped already
