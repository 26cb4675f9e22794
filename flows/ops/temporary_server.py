"""Prefect's temporary API server for one flow command, started before Prefect is imported.

Left to itself, Prefect starts this server inside the first flow call, after importing the
server's whole application into the calling process (about 3 s) only to learn its address.
Started here first, as the same uvicorn process on Prefect's application factory, the server's
own start (its imports, its database) runs on another core while this process imports the
flows, dbt and Great Expectations. The flows reach it through this process's PREFECT_API_URL
setting (`api_setting`), not its environment: no child process and no incident link points at a
server that ends with the command.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from flows.errors import SluiceError
from flows.ops.server import healthy, stop

#: Prefect's own range for its temporary server: below the kernel's ephemeral ports, so no
#: outgoing connection takes the port between the check and the server's bind
PORTS = range(8000, 9000)
#: uvicorn's exit status when it could not bind its port
_STARTUP_FAILURE = 3
# what Prefect sets for its temporary server: no UI, the ephemeral server's settings; and no
# registration of block types, for which its start imported every installed Prefect collection
# first (prefect-kubernetes of the dev tools, prefect-dbt of `make bench`: 2.9 of the 6.4 s the
# server took to answer, measured 2026-12-07). No flow of Sluice's uses a block; `sluice
# server`, which serves deployments and its UI, still registers them.
_SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}


def _ends_with_parent() -> Callable[[], None] | None:
    """What the server's process runs before the server (Linux): the kernel then stops it when
    this process dies, even by SIGKILL (atexit does not run then), so a killed command leaves no
    server behind. The C function is looked up here, so the child only calls it."""
    if sys.platform != "linux":
        return None
    prctl, pr_set_pdeathsig = ctypes.CDLL(None).prctl, 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


def _free_port() -> int:
    for _ in range(20):
        port = random.choice(PORTS)  # noqa: S311  # a port, not a secret
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SluiceError(
        f"no free port for Prefect's temporary server in {PORTS.start}-{PORTS.stop - 1} on "
        "127.0.0.1: start a server with `make serve` and run again"
    )


class TemporaryServer:
    """A Prefect API server on 127.0.0.1 for this process's life, started at construction."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.process = self._spawn()
        atexit.register(self.stop)  # registered first, so it runs after Prefect's own flushes

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.port = _free_port()
        spec = importlib.util.find_spec("prefect")  # its location, without importing it
        assert spec is not None and spec.submodule_search_locations, "prefect is not installed"
        package_parent = Path(next(iter(spec.submodule_search_locations))).parent
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "--app-dir", str(package_parent)),
                *("--factory", "prefect.server.api.server:create_app"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
                *("--log-level", "error", "--lifespan", "on"),
            ],
            env={**os.environ, **_SERVER_ENV},
            start_new_session=True,  # a terminal's Ctrl-C reaches the command, which stops it
            preexec_fn=_ends_with_parent(),
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait(self) -> str:
        """Wait until the server answers (Prefect's start-up timeout); its API URL."""
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        timeout = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.process.poll()
            if status == _STARTUP_FAILURE:  # another process took the port meanwhile
                self.process = self._spawn()
            elif status is not None:
                break
            elif healthy(self.api_url, timeout=1):
                return self.api_url
            time.sleep(0.1)
        self.stop()
        reason = "it did not answer" if status is None else f"it exited with status {status}"
        raise SluiceError(
            f"Prefect's temporary server did not start within {timeout} s ({reason}) — run "
            "`make install` (it migrates Prefect's database ahead), or start a server with "
            f"`make serve` and run again (PREFECT_HOME={self.home})"
        )

    def stop(self) -> None:
        """Stop the server and anything it started (idempotent). SIGTERM first, as Prefect
        stops its own temporary server: uvicorn's graceful stop on SIGINT waits about 2 s for
        nothing this command needs (every state it sent was committed when the API answered;
        SQLite keeps the database whole either way)."""
        stop(self.process, graceful=False)


@contextlib.contextmanager
def api_setting(api_url: str | None) -> Iterator[None]:
    """Prefect's client in this process uses api_url (None: the settings as they are)."""
    if api_url is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield
