"""A BigQuery emulator (crucible, from its own venv) on a free port of 127.0.0.1, for one check."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flows.errors import SluiceError

READY_SECONDS = 60.0


class EmulatorError(SluiceError):
    """The emulator could not be started or stopped."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_emulator(crucible: Path, log_path: Path) -> Iterator[str]:
    """Start `crucible serve --dialect bigquery`; yield its endpoint URL; stop it on exit."""
    if not crucible.exists():
        raise EmulatorError(f"{crucible} not found: `make bq-venvs` creates the emulator venv")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(crucible),
                "serve",
                "--dialect",
                "bigquery",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DO_NOT_TRACK": "1"},
        )
        try:
            deadline = time.monotonic() + READY_SECONDS
            probe = f"{endpoint}/bigquery/v2/projects/sluice-probe/datasets"
            while not _ready(probe):
                if process.poll() is not None:
                    raise EmulatorError(
                        f"the emulator exited with {process.returncode}; see {log_path}"
                    )
                if time.monotonic() > deadline:
                    raise EmulatorError(f"the emulator did not answer on {endpoint} in time")
                time.sleep(0.2)
            yield endpoint
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
