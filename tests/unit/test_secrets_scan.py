"""The secrets scan of `make lint`: it finds keys and high-entropy strings, and honours the
allowlist. The fake secrets are assembled at run time so this file does not trip the scan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.secrets_scan import fingerprint, main, scan, scan_text

AWS = "AKIA" + "Q7ZL2MXW4RT9BN3K"
TOKEN = "gh" + "p_" + "a1B2c3D4e5F6" + "g7H8i9J0k1L2" + "m3N4o5P6q7R8"
RANDOM = "x9Kq2Lm8Zr4T" + "b7Wc1Yd5Pf3H" + "g6Nj0Vs"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f"key = '{AWS}'", "AWS access key"),
        (f"token: {TOKEN}", "GitHub token"),
        ("-----BEGIN RSA " + "PRIVATE KEY-----", "private key"),
        ("url = 'postgres://app:" + "hunter22@db:5432/x'", "credentials in a URL"),
        ('password = "' + "correct-horse-battery" + '"', "password assignment"),
        (f"value = '{RANDOM}'", "high-entropy string"),
    ],
)
def test_the_scan_finds_each_kind_of_secret(line: str, kind: str) -> None:
    assert kind in {f.kind for f in scan_text("x.py", f"# ok\n{line}\n")}
    assert all(f.line == 2 for f in scan_text("x.py", f"# ok\n{line}\n"))


@pytest.mark.parametrize(
    "line",
    [
        "event_id = 'e0123456789ab'",
        "sha = '0000000000000000000000000000000000000000'",
        "name = 'stg_app_db__applications_changed_rows'",
        "password = '{{ env_var(\"SLUICE_PASSWORD\") }}'",
        "hashes = ['sha256:6f2c1ad7d2e9a1f0b1f3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819']",
    ],
)
def test_ordinary_project_strings_are_not_secrets(line: str) -> None:
    assert list(scan_text("x.py", line)) == []


def test_the_allowlist_accepts_one_string_or_a_whole_file(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(f"key = '{AWS}'\nother = '{RANDOM}'\n")
    found = scan(tmp_path, ["a.py"], [])
    assert [f.line for f in found] == [1, 2]
    assert [f.line for f in scan(tmp_path, ["a.py"], [f"a.py:{fingerprint(AWS)}"])] == [2]
    assert scan(tmp_path, ["a.py"], ["*.py"]) == []
    assert AWS not in "".join(f.describe() for f in found)  # never prints the secret


def test_the_command_fails_on_a_tracked_secret_and_passes_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "clean.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    assert main(["--root", str(tmp_path)]) == 0
    (tmp_path / "settings.py").write_text(f"token = '{TOKEN}'\n")
    (tmp_path / "untracked.py").write_text(f"token = '{TOKEN}'\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "settings.py"], check=True)
    assert main(["--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "settings.py:1: GitHub token" in out and "untracked.py" not in out
