"""The checks beside the diff: sqlfluff on the changed SQL files, the quality gates on the PR build.

sqlfluff runs in the background while dbt builds (it compiles the project against a DuckDB file
of its own). The gates are the project's Great Expectations suites (flows/gates/), run through
the public `Gates` API on the PR build's changed tables for every day of the sample lake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flows.gates.checks import Check

LINTED = ("models/", "tests/dbt/")


@dataclass(frozen=True)
class Finding:
    """One sqlfluff finding."""

    path: str
    line: int
    code: str
    description: str


@dataclass(frozen=True)
class GateRun:
    """The gates of the PR build: each suite's checks per sample day."""

    checks: tuple[tuple[date, Check], ...]
    suites: tuple[str, ...]

    @property
    def failed(self) -> list[tuple[date, Check]]:
        return [(d, c) for d, c in self.checks if not c.success and c.severity == "critical"]


def changed_files(project_dir: Path, base_sha: str) -> list[str]:
    """SQL files of models and singular tests changed since the base (working tree included)."""
    found: set[str] = set()
    for args in (["diff", "--name-only", base_sha], ["ls-files", "--others", "--exclude-standard"]):
        done = subprocess.run(
            ["git", "-C", str(project_dir), *args], capture_output=True, text=True, check=False
        )
        found.update(line.strip() for line in done.stdout.splitlines())
    return sorted(
        f
        for f in found
        if f.endswith(".sql") and f.startswith(LINTED) and (project_dir / f).is_file()
    )


class Lint:
    """sqlfluff on some files, in a background process."""

    def __init__(self, project_dir: Path, files: list[str], duckdb_file: Path) -> None:
        self.files = files
        self._process: subprocess.Popen[str] | None = None
        if files:
            env = {**os.environ, "SLUICE_DUCKDB": str(duckdb_file), "SLUICE_TARGET": "dev"}
            command = [str(Path(sys.executable).parent / "sqlfluff"), "lint", *files]
            self._process = subprocess.Popen(
                [*command, "--format", "json"],
                cwd=project_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

    def findings(self) -> list[Finding]:
        """Wait for sqlfluff; every finding, by file and line."""
        if self._process is None:
            return []
        out, err = self._process.communicate()
        try:
            reports = json.loads(out)
        except ValueError:
            detail = (err or out).strip().splitlines()[-1:] or ["no output"]
            return [Finding(", ".join(self.files), 0, "ERROR", f"sqlfluff failed: {detail[0]}")]
        return [
            Finding(
                report["filepath"],
                int(v.get("start_line_no") or v.get("line_no") or 0),
                v.get("code", ""),
                v.get("description", ""),
            )
            for report in reports
            for v in report.get("violations", [])
        ]


def run_gates(
    project_dir: Path,
    manifest: Any,
    warehouse: Path,
    state: Path,
    tables: set[tuple[str, str]],
    days: list[date],
) -> GateRun:
    """Each suite of the given tables, on every sample day, against the PR build (the parsed
    manifest names its relations)."""
    from flows.gates.runner import Gates
    from flows.project.manifest import build_project
    from flows.settings import Settings
    from flows.state.store import StateStore
    from flows.warehouse.choose import warehouse_for

    settings = Settings(
        duckdb=warehouse, state=state, project_dir=project_dir, target="dev"
    ).resolved()
    project = build_project(manifest, project_dir)
    gates = Gates(warehouse_for(settings), project, project_dir, StateStore(state))
    gates.suites = tuple(s for s in gates.suites if (s.schema, s.table) in tables)
    checks: list[tuple[date, Check]] = []
    for layer in sorted({s.layer for s in gates.suites}):
        for day in days:
            result = gates.run(layer, day, run_id=f"pr-check-{day.isoformat()}")
            checks += [(day, check) for check in result.checks]
    return GateRun(tuple(checks), tuple(sorted(s.name for s in gates.suites)))
