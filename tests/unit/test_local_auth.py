"""The local server's auth string: generated once, kept in a Prefect profile only its owner can
read, other profiles untouched; and no server is used that the record does not prove ours."""

from __future__ import annotations

import json
import os
import socket
import stat
import tomllib
from pathlib import Path

from flows.ops import local_auth


def test_the_auth_string_is_generated_once_into_a_private_profile(tmp_path: Path) -> None:
    profiles = local_auth.profiles_file(tmp_path)
    profiles.write_text('active = "local"\n\n[profiles.local]\nPREFECT_LOGGING_LEVEL = "DEBUG"\n')
    profiles.chmod(0o644)
    first = local_auth.auth_string(tmp_path, "http://127.0.0.1:4200/api")
    assert stat.S_IMODE(profiles.stat().st_mode) == 0o600
    assert first.startswith("sluice:") and len(first) > 40
    assert local_auth.auth_string(tmp_path, "http://127.0.0.1:4301/api") == first  # kept
    saved = tomllib.loads(profiles.read_text())
    assert saved["active"] == "local"
    assert saved["profiles"]["local"] == {"PREFECT_LOGGING_LEVEL": "DEBUG"}
    assert saved["profiles"]["sluice-local"] == {
        "PREFECT_API_URL": "http://127.0.0.1:4301/api",
        "PREFECT_API_AUTH_STRING": first,
    }


def test_a_recorded_server_that_does_not_listen_on_its_port_is_not_used(tmp_path: Path) -> None:
    local_auth.auth_string(tmp_path, "http://127.0.0.1:4200/api")
    assert local_auth.running(tmp_path) is None  # no record: no server
    with socket.socket() as other:  # this process listens, on another port
        other.bind(("127.0.0.1", 0))
        other.listen()
        (tmp_path / local_auth.RECORD_FILE).write_text(
            json.dumps({"api_url": "http://127.0.0.1:4200/api", "pid": os.getpid()})
        )
        assert local_auth.running(tmp_path) is None
        port = other.getsockname()[1]
        url = f"http://127.0.0.1:{port}/api"
        local_auth.auth_string(tmp_path, url)
        local_auth.record(tmp_path, url, os.getpid())
        found = local_auth.running(tmp_path)  # the recorded process listens there: used
        assert found is not None and found.api_url == url
    local_auth.forget(tmp_path)
    assert local_auth.running(tmp_path) is None
