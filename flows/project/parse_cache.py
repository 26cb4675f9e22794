"""The dbt project's parsed manifest, reused while nothing a parse reads changes.

A dbt parse takes seconds. Its manifest is kept in the process (a second flow run, another
warehouse in the same process) and on disk under target/sluice-parse/ (the next process), keyed
by what the parse reads: the project's files (their paths inside the project and their bytes),
the parse arguments, the versions of dbt and its adapters, and the environment variables dbt's
own settings (DBT_*), profiles.yml and dbt_project.yml name. The DuckDB file counts by its stem
only: dbt-duckdb names the database after it and nothing else of the path reaches the manifest,
so a new warehouse file no longer costs a whole parse, as it does with dbt's partial parse (which
starts over whenever the profile changes). Where the project folder is counts neither: the only
place it reaches the manifest is each project file's `path.project_root` (read by dbt's partial
parse, which Sluice does not hand this manifest to), and a manifest parsed in another folder is
given this one's (`_relocated`), so a copy of the project, or the project moved with its
target/, reuses the parse. Variables the models read (`env_var`, which dbt records in the
manifest) are compared when a saved manifest is loaded, which happens only when this user alone
can write it (a pickle runs code when it is loaded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

# dbt_project.yml's keys naming the folders dbt parses (each a list of paths).
_PATH_KEYS = (
    "model-paths",
    "macro-paths",
    "test-paths",
    "seed-paths",
    "analysis-paths",
    "snapshot-paths",
    "docs-paths",
)
_PACKAGES = ("dbt-core", "dbt-adapters", "dbt-duckdb", "dbt-bigquery")
_ENV_VAR = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
_FOLDER = Path("target") / "sluice-parse"
# Manifests of this process by key, with the project folder each was made for, the newest last;
# and how many stay on disk.
_IN_PROCESS: dict[str, tuple[Any, str]] = {}
# What stands for the project folder in the parse arguments and environment a key is made of.
_HERE = "<project>"
_KEEP_IN_PROCESS = 4
_KEEP_ON_DISK = 8


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        for child in sorted(path.iterdir()):
            yield from _files(child)


def _parsed_files(project_dir: Path) -> list[Path]:
    """Every file dbt reads when it parses the project."""
    declared = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    folders = [p for key in _PATH_KEYS for p in declared.get(key) or ()]
    names = ["dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml", *folders]
    return [file for name in names for file in _files(project_dir / name)]


def _environment(project_dir: Path) -> list[tuple[str, str]]:
    """The environment variables a parse reads, the DuckDB file reduced to its stem and the
    project folder to a placeholder."""
    named: set[str] = set()
    for name in ("profiles.yml", "dbt_project.yml"):
        if (project_dir / name).is_file():
            named |= set(_ENV_VAR.findall((project_dir / name).read_text()))
    return [
        (key, Path(value).stem if key == "SLUICE_DUCKDB" else _portable(value, project_dir))
        for key, value in sorted(os.environ.items())
        if key.startswith("DBT_") or key in named
    ]


def _portable(text: str, project_dir: Path) -> str:
    """`text` with the project folder (a path at its start) named by a placeholder."""
    here = str(project_dir)
    if text == here or text.startswith(here + os.sep):
        return _HERE + text[len(here) :]
    return text


def _versions() -> list[str]:
    found = []
    for package in _PACKAGES:
        try:
            found.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} missing")
    return found


def parse_key(project_dir: Path, parse_args: list[str]) -> str:
    """A digest of everything the parse of `project_dir` with `parse_args` reads."""
    digest = hashlib.sha256()
    arguments = [_portable(argument, project_dir) for argument in parse_args]
    digest.update(json.dumps([_versions(), arguments, _environment(project_dir)]).encode())
    for file in _parsed_files(project_dir):
        digest.update(f"\0{file.relative_to(project_dir)}\0".encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _load(path: Path, project_dir: Path) -> Any | None:
    """A saved manifest (moved to `project_dir`), or None when there is none, it is unreadable,
    or the environment variables its models read have changed."""
    try:
        if not _private(path.parent) or not _private(path):
            log.warning("ignoring the saved dbt parse %s: writable by another user", path)
            return None
        # Unpickled only when this user alone could have written it (checked above).
        kind, fields, parsed_in = pickle.loads(path.read_bytes())  # noqa: S301
        manifest = _relocated(kind(**fields), parsed_in, str(project_dir))
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or foreign file: parse again
        log.warning("ignoring the saved dbt parse %s: %s", path, exc)
        return None
    read = getattr(manifest, "env_vars", None) or {}
    if any(os.environ.get(name) != value for name, value in read.items()):
        return None
    return manifest


def _private(path: Path) -> bool:
    """Owned by this process's user and writable by nobody else."""
    status = path.stat()
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _relocated(manifest: Any, parsed_in: str, project_dir: str) -> Any:
    """`manifest`, parsed in the folder `parsed_in`, for the same files in `project_dir`: a new
    manifest whose project files name `project_dir` as their root (everything else shared)."""
    if parsed_in == project_dir:
        return manifest
    files = {}
    for key, file in manifest.files.items():
        if file.path.project_root == parsed_in:
            file = dataclasses.replace(
                file, path=dataclasses.replace(file.path, project_root=project_dir)
            )
        files[key] = file
    kind, fields = _contents(manifest)
    return kind(**{**fields, "files": files})


def _contents(manifest: Any) -> tuple[type, dict[str, Any]]:
    """The manifest's class and its public fields: its lookups, lock and caches are rebuilt
    when used (dbt's own pickling of a Manifest passes its fields by position, in an order
    that no longer matches the class, so a loaded manifest's lookups were the wrong ones)."""
    fields = dataclasses.fields(manifest)
    return type(manifest), {f.name: getattr(manifest, f.name) for f in fields if f.name[0] != "_"}


def _age(path: Path) -> int:
    """Modification time; 0 for a file another process removed meanwhile (two runs at once)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _save(folder: Path, key: str, manifest: Any, project_dir: Path) -> None:
    """Keep the manifest for the next process (atomically), and the newest few only."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = folder / f".{key}.{os.getpid()}.tmp"
        contents = (*_contents(manifest), str(project_dir))
        partial.write_bytes(pickle.dumps(contents, protocol=pickle.HIGHEST_PROTOCOL))
        partial.chmod(0o600)
        os.replace(partial, folder / f"{key}.pickle")
        saved = sorted(folder.glob("*.pickle"), key=_age)
        for old in saved[:-_KEEP_ON_DISK]:
            old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only project: the next process parses again
        log.warning("could not keep the dbt parse in %s: %s", folder, exc)


def parsed_manifest(project_dir: Path, parse_args: list[str], parse: Callable[[], Any]) -> Any:
    """The manifest of `parse_args`' parse of `project_dir`: from this process, from disk, or
    `parse()` (then kept in both)."""
    key = parse_key(project_dir, parse_args)
    if key in _IN_PROCESS:
        manifest, parsed_in = _IN_PROCESS.pop(key)
        if parsed_in != str(project_dir):  # a copy of the project: one relocation, then kept
            manifest = _relocated(manifest, parsed_in, str(project_dir))
        _IN_PROCESS[key] = manifest, str(project_dir)  # the newest last
        return manifest
    folder = project_dir / _FOLDER
    manifest = _load(folder / f"{key}.pickle", project_dir)
    if manifest is None:
        manifest = parse()
        _save(folder, key, manifest, project_dir)
    _IN_PROCESS[key] = manifest, str(project_dir)
    while len(_IN_PROCESS) > _KEEP_IN_PROCESS:
        _IN_PROCESS.pop(next(iter(_IN_PROCESS)))
    return manifest
