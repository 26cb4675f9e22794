"""The lake: where a table's partition lives, whether it is complete, and which files it holds.

One interface (`Lake`), two implementations: `FolderLake` (a local folder) and `BucketLake`
(`gs://bucket/prefix`, flows/lake_bucket.py), chosen by `open_lake` from the setting `lake`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flows.errors import InvalidParameter, PartitionIncomplete
from flows.project import LakeTable, digest

if TYPE_CHECKING:
    from flows.settings import Settings

SUCCESS_MARKER = "_SUCCESS"
_SAFE_LAKE_PATH = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
_EXTENSIONS = {"jsonl": (".jsonl.gz", ".jsonl"), "csv": (".csv",), "parquet": (".parquet",)}

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


def lake_path(table: LakeTable) -> str:
    """The table's lake_path, refused unless it is lowercase words separated by '/'."""
    if not _SAFE_LAKE_PATH.match(table.lake_path):
        raise InvalidParameter(
            f"lake_path {table.lake_path!r} of source table {table.name} must be "
            "lowercase words separated by '/'"
        )
    return table.lake_path


def is_data_file(table: LakeTable, name: str) -> bool:
    """Whether a file name of a partition is one of the table's data files."""
    return not name.startswith(("_", ".")) and name.endswith(_EXTENSIONS[table.format])


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


class FolderLake:
    """A lake folder on this machine."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @property
    def location(self) -> str:
        return str(self.root)

    def partition_dir(self, table: LakeTable, dt: date) -> Path:
        """The folder of one table's partition, refusing paths that leave the lake."""
        folder = (self.root / lake_path(table) / f"dt={dt.isoformat()}").resolve()
        if not folder.is_relative_to(self.root):
            raise InvalidParameter(f"partition folder {folder} is outside the lake {self.root}")
        return folder

    def where(self, table: LakeTable, dt: date) -> str:
        return str(self.partition_dir(table, dt))

    def exists(self, table: LakeTable, dt: date) -> bool:
        return self.partition_dir(table, dt).is_dir()

    def is_complete(self, table: LakeTable, dt: date) -> bool:
        return (self.partition_dir(table, dt) / SUCCESS_MARKER).is_file()

    def files(self, table: LakeTable, dt: date) -> list[LakeFile]:
        """The data files of a complete partition, sorted by name."""
        folder = self.partition_dir(table, dt)
        if not folder.is_dir():
            raise missing(str(folder), table, dt)
        if not (folder / SUCCESS_MARKER).is_file():
            raise unmarked(str(folder))
        found: list[LakeFile] = []
        for path in sorted(folder.iterdir()):
            if not is_data_file(table, path.name):
                continue
            real = path.resolve()
            if not real.is_relative_to(self.root):
                raise InvalidParameter(f"lake file {path} links outside the lake {self.root}")
            stat = real.stat()
            found.append(
                LakeFile(real, str(path.relative_to(self.root)), stat.st_size, stat.st_mtime_ns)
            )
        check_not_empty(len(found), str(folder), table, dt)
        return found

    @contextmanager
    def fetch(self, tables: tuple[LakeTable, ...], dt: date) -> Iterator[LakeFiles]:
        yield {table.name: self.files(table, dt) for table in tables}

    def days(self, table: LakeTable) -> list[date]:
        base = self.root / lake_path(table)
        if not base.is_dir():
            return []
        days: list[date] = []
        for child in base.iterdir():
            name = child.name
            if name.startswith("dt=") and (child / SUCCESS_MARKER).is_file():
                try:
                    days.append(date.fromisoformat(name[3:]))
                except ValueError:
                    continue
        return sorted(days)

    def entries(self, table: LakeTable, dt: date) -> list[Entry]:
        folder = self.partition_dir(table, dt)
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.iterdir()):
            stat = path.stat()
            found.append((str(path.relative_to(self.root)), stat.st_size, stat.st_mtime_ns))
        return found


def open_lake(settings: Settings) -> Lake:
    """The lake of the settings: a folder, or a bucket when `lake` is a gs:// URL."""
    from flows.lake_bucket import BucketLake, BucketLocation

    if isinstance(settings.lake, BucketLocation):
        return BucketLake.from_settings(settings)
    return FolderLake(settings.lake)


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
