"""Who may talk to the local Prefect server: its API auth string, and which server is ours.

`sluice server` keeps the auth string in the Prefect profile `sluice-local` of its PREFECT_HOME
(`data/prefect/profiles.toml`, readable by its owner only), with the server's API URL, so
`prefect --profile sluice-local …` (make deploy, the scheduler's `prefect deployment run`)
authenticates. While the server runs, a record beside it names its process; a `sluice` command
sends the string only to the server that record names, and only when that process is what
listens on the port (so not to whatever else answers on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.errors import SluiceError

PROFILE = "sluice-local"
PROFILES_FILE = "profiles.toml"
RECORD_FILE = "sluice-server.json"
_PRIVATE = 0o600


@dataclass(frozen=True)
class Running:
    """The local server a `sluice server` started: where it listens and its auth string."""

    api_url: str
    auth: str


def profiles_file(home: Path) -> Path:
    return home / PROFILES_FILE


def _private(path: Path) -> None:
    """Refuse a file of another user; narrow one that others may read to its owner."""
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise SluiceError(
            f"{path} belongs to another user (uid {info.st_uid}): it would hold the Prefect API "
            "auth string; remove it, or use a PREFECT_HOME of your own"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(_PRIVATE)


def _write_private(path: Path, text: str) -> None:
    """Replace path with text, atomically, readable and writable by its owner only."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def _profiles(home: Path) -> dict[str, Any]:
    path = profiles_file(home)
    if not path.exists():
        return {}
    _private(path)
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SluiceError(f"{path} is not valid TOML ({exc}): fix or remove it") from None


def _toml_value(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value)  # a JSON string or number is a TOML one
    raise SluiceError(f"{where}: only plain values are kept when Sluice rewrites the file")


def _toml(found: dict[str, Any], where: Path) -> str:
    """profiles.toml's text: its top-level values, then one table per profile."""
    lines = [
        f"{key} = {_toml_value(value, f'{where} {key}')}"
        for key, value in found.items()
        if key != "profiles"
    ]
    for name, settings in found.get("profiles", {}).items():
        lines += ["", f"[profiles.{json.dumps(name)}]"]
        lines += [
            f"{key} = {_toml_value(value, f'{where} profile {name}')}"
            for key, value in settings.items()
        ]
    return "\n".join(lines).lstrip("\n") + "\n"


def auth_string(home: Path, api_url: str) -> str:
    """The server's auth string (generated the first time), saved with the API URL as the
    profile `sluice-local` in home's profiles.toml; other profiles are kept as they are."""
    home.mkdir(parents=True, exist_ok=True)
    found = _profiles(home)
    profile = dict(found.get("profiles", {}).get(PROFILE, {}))
    auth = profile.get("PREFECT_API_AUTH_STRING") or f"sluice:{secrets.token_urlsafe(32)}"
    wanted = {**profile, "PREFECT_API_URL": api_url, "PREFECT_API_AUTH_STRING": auth}
    if wanted != profile:
        profiles = {**found.get("profiles", {}), PROFILE: wanted}
        path = profiles_file(home)
        _write_private(path, _toml({**found, "profiles": profiles}, path))
    return str(auth)


def record(home: Path, api_url: str, pid: int) -> None:
    """Note that the server of pid, started by `sluice server`, serves api_url."""
    _write_private(home / RECORD_FILE, json.dumps({"api_url": api_url, "pid": pid}))


def forget(home: Path) -> None:
    (home / RECORD_FILE).unlink(missing_ok=True)


def running(home: Path) -> Running | None:
    """The server `sluice server` started with this home, if it runs and is what listens on its
    port; None otherwise (nothing is sent to a port another process answers on)."""
    try:
        noted = json.loads((home / RECORD_FILE).read_text())
        api_url, pid = str(noted["api_url"]), int(noted["pid"])
        port = int(api_url.rsplit(":", 1)[1].split("/", 1)[0])
    except (OSError, ValueError, KeyError, IndexError):
        return None
    if not _listens(pid, port):
        return None
    profile = _profiles(home).get("profiles", {}).get(PROFILE, {})
    auth = profile.get("PREFECT_API_AUTH_STRING")
    return (
        Running(api_url, str(auth)) if auth and profile.get("PREFECT_API_URL") == api_url else None
    )


def _listens(pid: int, port: int) -> bool:
    """Whether the process pid (or one of its session) listens on 127.0.0.1:port. Without
    /proc (not Linux) only whether pid is alive."""
    if not _exists(pid):
        return False
    tables = Path("/proc/net/tcp")
    if not tables.exists():
        return True
    inodes = set()
    for line in tables.read_text().splitlines()[1:]:
        fields = line.split()
        address, hex_port = fields[1].split(":")
        if fields[3] == "0A" and int(hex_port, 16) == port and address == "0100007F":
            inodes.add(fields[9])
    return any(_holds(member, inodes) for member in {pid, *session_members(pid)})


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return _exists(pid) and not Path("/proc").is_dir()
    return state != "Z"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def session_members(session: int) -> list[int]:
    """The processes of a session (Linux: from /proc; elsewhere just its leader)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return [session]
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # after the name: state, ppid, pgrp, session
            found.append(int(entry.name))
    return found


def _holds(pid: int, inodes: set[str]) -> bool:
    """Whether the process has one of the sockets open."""
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False
