"""Servers Sluice starts listen on 127.0.0.1 only: checked on a live Prefect server's sockets,
and on every `--host` the project passes (Makefile, flows/, prefect.yaml)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from flows.ops import server

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening_addresses(port: int) -> set[str]:
    """The local addresses of LISTEN sockets on a port, read from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            if len(raw) == 4:
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def _outward_address() -> str | None:
    """This host's non-loopback address, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


@pytest.mark.slow
def test_the_prefect_server_listens_on_loopback_only(tmp_path: Path) -> None:
    local = server.Local.at(tmp_path / "prefect-home", _free_port())
    process = server.start_server(local, tmp_path / "server.log")
    try:
        server.wait_healthy(local, process)
        assert listening_addresses(local.port) == {"127.0.0.1"}
        outward = _outward_address()
        if outward is not None:
            with pytest.raises(OSError), socket.create_connection((outward, local.port), 5):
                pass
    finally:
        server.stop(process)


def test_every_host_the_project_passes_a_server_is_loopback() -> None:
    code = sorted([*(ROOT / "flows").rglob("*.py"), *(ROOT / "tools").rglob("*.py")])
    # A scan that finds no file (a moved package, a wrong glob) must not pass: count them.
    assert len(code) >= 80, f"only {len(code)} Python files under flows/ and tools/"
    sources = [ROOT / "Makefile", ROOT / "prefect.yaml", *code]
    hosts = []
    for path in sources:
        text = path.read_text()
        hosts += re.findall(r"--host[\"'=,\s]+\"?([^\s\"',)]+)", text)
        assert "0.0.0.0" not in text, path
    # the local Prefect server (flows/ops/server.py), the emulators of tools/bq_check, the docs
    assert len(hosts) >= 3 and set(hosts) == {"127.0.0.1"}, hosts
