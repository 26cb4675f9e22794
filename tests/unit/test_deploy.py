"""The worker image: the Dockerfile passes hadolint, and hadolint does flag a bad one (fast)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from flows.settings import PROJECT_DIR

HADOLINT = Path(sys.executable).parent / "hadolint"


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_worker_dockerfile_passes_hadolint() -> None:
    result = _hadolint(PROJECT_DIR / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_unpinned_packages_and_cd_in_run(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:3.11-slim-bookworm\n"
        "RUN apt-get update && apt-get install -y git\n"
        "RUN cd /tmp && touch marker\n"
    )
    result = _hadolint(bad)
    assert result.returncode == 1
    assert "DL3008" in result.stdout  # apt-get install without versions
    assert "DL3003" in result.stdout  # cd instead of WORKDIR


def test_the_image_installs_the_lock_as_a_non_root_user_with_telemetry_off() -> None:
    text = (PROJECT_DIR / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text
    assert "UV_COMPILE_BYTECODE=1" in text
    for setting in (
        "DO_NOT_TRACK=1",
        "PREFECT_SERVER_ANALYTICS_ENABLED=false",
        "GX_ANALYTICS_ENABLED=false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS=false",
    ):
        assert setting in text, setting
    users = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
    assert users == ["10001:10001"]  # the last USER is who runs flows: not root
    ignored = (PROJECT_DIR / ".dockerignore").read_text().split()
    assert {"data", "target", "logs", ".venv", ".venv-*", ".git", "sluice.toml"} <= set(ignored)
