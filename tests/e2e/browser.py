"""The real Chromium the browser tests drive (Debian's package, `make browser`): where it is and
how it starts headless."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str:
    """The chromium executable; in CI its absence fails the test, elsewhere it skips it."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(
            "chromium is missing in CI: `make test` depends on `make browser`, which installs it"
        )
    pytest.skip("chromium is not installed: `make browser` installs Debian's chromium package")
