"""Secrets scan: no key, token, password or high-entropy string in a tracked file.

`python -m flows.secrets_scan` scans every file `git ls-files` lists (`make lint` runs it) and
exits 1 naming each finding's file and line. Known false positives go in `.secrets-allowlist`:
one line per entry, `<path glob>` to skip a file, or `<path glob>:<fingerprint>` to accept one
string (the fingerprint is printed with the finding; it is a digest, never the secret itself).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import math
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ALLOWLIST = ".secrets-allowlist"
_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "credentials in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"]{3,}@"),
    "password assignment": re.compile(
        r"(?i)\b(?:password|passwd|secret|api_?key|access_?token|private_?key)\b"
        r"\s*[:=]\s*['\"]([^'\"\s{}$]{8,})['\"]"
    ),
}
_QUOTED = re.compile(r"['\"]([A-Za-z0-9+/=_-]{24,})['\"]")
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Finding:
    """One suspicious string in a file."""

    path: str
    line: int
    kind: str
    fingerprint: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} (fingerprint {self.fingerprint})"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _high_entropy(text: str) -> bool:
    if _HEX.match(text):
        return len(text) >= 40 and entropy(text) > 3.7
    has_classes = sum(bool(re.search(p, text)) for p in ("[a-z]", "[A-Z]", "[0-9]")) == 3
    return has_classes and entropy(text) > 4.5


def fingerprint(secret: str) -> str:
    """A short digest that names a string without revealing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def scan_text(path: str, text: str) -> Iterator[Finding]:
    """Every finding in one file's text."""
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in _PATTERNS.items():
            for match in pattern.finditer(line):
                yield Finding(path, number, kind, fingerprint(match.group(0)))
        for match in _QUOTED.finditer(line):
            if _high_entropy(match.group(1)):
                yield Finding(path, number, "high-entropy string", fingerprint(match.group(1)))


def _allowed(finding: Finding, allowlist: list[str]) -> bool:
    for entry in allowlist:
        glob, _, accepted = entry.partition(":")
        if fnmatch.fnmatch(finding.path, glob) and accepted in ("", finding.fingerprint):
            return True
    return False


def read_allowlist(root: Path) -> list[str]:
    """The allowlist's entries (comments and blank lines left out)."""
    path = root / ALLOWLIST
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def scan(root: Path, paths: Sequence[str], allowlist: list[str]) -> list[Finding]:
    """Findings in the given files (relative to root) that the allowlist does not accept."""
    findings = []
    for relative in paths:
        if any(fnmatch.fnmatch(relative, entry) for entry in allowlist if ":" not in entry):
            continue
        file = root / relative
        if not file.is_file() or file.is_symlink():
            continue
        data = file.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        findings += [f for f in scan_text(relative, text) if not _allowed(f, allowlist)]
    return findings


def tracked_files(root: Path) -> list[str]:
    """The files git tracks under root."""
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60
    )
    return [p for p in out.stdout.decode().split("\0") if p]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.secrets_scan", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    root = args.root.resolve()
    findings = scan(root, tracked_files(root), read_allowlist(root))
    for finding in findings:
        print(finding.describe())
    if findings:
        print(
            f"{len(findings)} possible secret(s): remove them, or if harmless add "
            f"'<path>:<fingerprint>' to {ALLOWLIST}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
