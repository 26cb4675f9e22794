"""Code versions from files: a digest of the files that define each step, without a dbt parse.

The pipeline's parse writes a `ProjectCard` (the steps in order, the files each one hashes, the
lake tables) into the state store; the ledger records `code_versions` at every attempt, and
`sluice status` compares them with the same digest of the files as they are now.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flows.project.lake_tables import FieldRule, LakeTable

# Where the expectation suites are: one folder per schema, one <table>.json per suite.
SUITES_DIR = Path("expectations") / "expectations"
# What a code version starts with: a ledger row without it was recorded by another way of
# versioning code (the manifest digest of earlier Sluice versions).
CODE_FORMAT = "files1"
# The files of a listed folder that are code (SQL, YAML, suites); others (.sqlfluff, docs) not.
CODE_SUFFIXES = (".sql", ".yml", ".yaml", ".json")


@dataclass(frozen=True)
class StepFiles:
    """What one step's code version hashes: files, and folders (the code files directly in
    them), relative to the project."""

    step: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class ProjectCard:
    """The project as the read-only commands need it, without a dbt parse: the steps in
    order, the files of each, and the lake tables (for the lake days' fingerprints)."""

    steps: tuple[StepFiles, ...]
    lake_tables: tuple[LakeTable, ...]

    @property
    def step_names(self) -> tuple[str, ...]:
        """Every step of a partition in order."""
        return tuple(s.step for s in self.steps)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProjectCard:
        data = json.loads(text)
        return cls(
            steps=tuple(StepFiles(s["step"], tuple(s["paths"])) for s in data["steps"]),
            lake_tables=tuple(_lake_table(t) for t in data["lake_tables"]),
        )


def _lake_table(data: dict[str, Any]) -> LakeTable:
    fields = tuple(
        FieldRule(
            name=f["name"],
            type=f["type"],
            required_for=None if f["required_for"] is None else tuple(f["required_for"]),
            accepted=tuple(f["accepted"]),
        )
        for f in data["fields"]
    )
    return LakeTable(**{**data, "fields": fields})


def is_current_format(version: str) -> bool:
    """Whether a recorded code version was made the way `code_versions` makes them."""
    return version.startswith(f"{CODE_FORMAT}:")


def _files(project_dir: Path, path: str) -> list[Path]:
    where = project_dir / path
    if where.is_dir():
        return sorted(p for p in where.iterdir() if p.is_file() and p.suffix in CODE_SUFFIXES)
    return [where]


def _file_digest(project_dir: Path, file: Path) -> str:
    name = file.relative_to(project_dir).as_posix()
    try:
        return f"{name}:{hashlib.sha256(file.read_bytes()).hexdigest()}"
    except FileNotFoundError:
        return f"{name}: missing"


def code_versions(project_dir: Path, card: ProjectCard) -> dict[str, str]:
    """Each step's code version: `files1:` and a digest of its files' names and bytes."""
    versions = {}
    for step in card.steps:
        files = sorted({f for path in step.paths for f in _files(project_dir, path)})
        parts = "\n".join(_file_digest(project_dir, f) for f in files)
        versions[step.step] = f"{CODE_FORMAT}:{hashlib.sha256(parts.encode()).hexdigest()[:16]}"
    return versions
