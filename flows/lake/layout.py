"""The lake's layout and rules: the `Lake` interface, partition paths, markers, data file names.

Two implementations: `FolderLake` (flows/lake/folder.py) and `BucketLake` (`gs://bucket/prefix`,
flows/lake/bucket.py), chosen by `open_lake` (flows/lake/opener.py) from the setting `lake`.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from flows.errors import InvalidParameter, PartitionIncomplete, UnreadableFile
from flows.project.identifiers import digest
from flows.project.lake_tables import LakeTable

SUCCESS_MARKER = "_SUCCESS"
# The most bytes landing reads from one lake file, decompressed (the setting max_file_bytes).
MAX_FILE_BYTES = 2 * 1024**3
_SEGMENT = re.compile(r"^[A-Za-z0-9_=-][A-Za-z0-9._=-]*$")
_SAFE_LAKE_PATH = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
_EXTENSIONS = {"jsonl": (".jsonl.gz", ".jsonl"), "csv": (".csv",), "parquet": (".parquet",)}
# Characters DuckDB's file readers expand as a pattern (read_csv('[_]x.csv') reads _x.csv).
_PATTERN = frozenset("*?[]{}")

# (path relative to the lake, size, version: mtime_ns of a file, generation of an object)
Entry = tuple[str, int, int]
LakeFiles = dict[str, list["LakeFile"]]


@dataclass(frozen=True)
class LakeFile:
    """One data file of a lake partition, readable at `path` on this machine."""

    path: Path
    relative: str
    size: int
    mtime_ns: int


class Lake(Protocol):
    """A hive-partitioned lake (`<table path>/dt=YYYY-MM-DD/` with a `_SUCCESS` marker)."""

    @property
    def location(self) -> str:
        """The lake's folder or gs:// URL, for messages."""
        ...

    @property
    def max_file_bytes(self) -> int:
        """The most bytes landing reads from one file (decompressed); a bigger one fails."""
        ...

    def where(self, table: LakeTable, dt: date) -> str:
        """The partition's folder or gs:// URL, for messages."""
        ...

    def exists(self, table: LakeTable, dt: date) -> bool:
        """True when anything of the partition was delivered."""
        ...

    def is_complete(self, table: LakeTable, dt: date) -> bool:
        """True when the partition's _SUCCESS marker exists."""
        ...

    def days(self, table: LakeTable) -> list[date]:
        """The complete partitions of a table, oldest first."""
        ...

    def entries(self, table: LakeTable, dt: date) -> list[Entry]:
        """Everything in the partition (markers too) with size and version, sorted by name."""
        ...

    def fetch(self, tables: tuple[LakeTable, ...], dt: date) -> AbstractContextManager[LakeFiles]:
        """The data files of complete partitions, readable locally while the context lasts."""
        ...


def _plain(name: str) -> bool:
    """One safe path segment: letters, digits, . _ = - (never '..'), so no reader pattern."""
    return bool(_SEGMENT.match(name)) and ".." not in name


def safe_segment(name: str, what: str) -> str:
    """Return name if it is one safe path segment (letters, digits, . _ = -; never '..')."""
    if not _plain(name):
        raise InvalidParameter(
            f"{what} {name!r} is not a safe name: use letters, digits, '.', '_', '=' and '-', "
            "not '..'"
        )
    return name


def lake_path(table: LakeTable) -> str:
    """The table's lake_path, refused unless it is lowercase words separated by '/'."""
    if not _SAFE_LAKE_PATH.match(table.lake_path):
        raise InvalidParameter(
            f"lake_path {table.lake_path!r} of source table {table.name} must be "
            "lowercase words separated by '/'"
        )
    return table.lake_path


def is_data_file(table: LakeTable, name: str, shown: str) -> bool:
    """Whether a file of a partition is one of the table's data files (markers and hidden files
    are not); a data file whose name is not plain fails its partition, naming it as `shown`.

    Never skipped instead: conservation. A name such as `[_]users.csv` or `x*.csv` would make
    the warehouse's reader expand it to other files, inside the lake or out of it.
    """
    if name.startswith(("_", ".")) or not name.endswith(_EXTENSIONS[table.format]):
        return False
    if not _plain(name):
        raise UnreadableFile(
            f"lake file {shown}: {name!r} is not a safe name for a lake file (use letters, "
            "digits, '.', '_', '=' and '-', not '..'); rename it and re-deliver the partition"
        )
    return True


def literal_path(lake_file: LakeFile) -> str:
    """The file's local path for a reader that expands patterns, refused if it holds one."""
    path = str(lake_file.path)
    if _PATTERN.intersection(path):
        raise UnreadableFile(
            f"lake file {path}: its path holds one of {' '.join(sorted(_PATTERN))}, which the "
            "warehouse's reader expands as a pattern; move the lake (or the state store, whose "
            "folder holds a bucket lake's copies) to a path without them"
        )
    return path


def missing(where: str, table: LakeTable, dt: date) -> PartitionIncomplete:
    return PartitionIncomplete(
        f"lake partition {where} does not exist: {table.name} for {dt} has not been delivered"
    )


def unmarked(where: str) -> PartitionIncomplete:
    return PartitionIncomplete(
        f"lake partition {where} has no {SUCCESS_MARKER} marker: its delivery is not "
        "complete; wait for it or re-deliver it"
    )


def check_not_empty(files: int, where: str, table: LakeTable, dt: date) -> None:
    """A dump (csv, parquet) partition marked complete must hold its file."""
    if not files and table.format != "jsonl":
        raise PartitionIncomplete(
            f"lake partition {where} is marked complete but holds no {table.format} file: "
            f"the {table.name} dump for {dt} is missing"
        )


def fingerprint(lake: Lake, tables: tuple[LakeTable, ...], dt: date) -> str:
    """A digest of what lake day dt holds: every file's path, size and version, and the markers."""
    found: list[Entry] = []
    for table in tables:
        entries = lake.entries(table, dt)
        found.extend(entries or [(f"{table.lake_path}: missing", 0, 0)])
    return digest(found)


def last_complete_day(lake: Lake, tables: tuple[LakeTable, ...]) -> date:
    """The latest lake day whose every table is complete."""
    complete = set.intersection(*(set(lake.days(table)) for table in tables))
    if not complete:
        raise PartitionIncomplete(f"no complete lake day under {lake.location}")
    return max(complete)
