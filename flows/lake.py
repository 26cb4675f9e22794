"""The lake: where a table's partition lives, whether it is complete, and which files it holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flows.errors import InvalidParameter, PartitionIncomplete
from flows.project import LakeTable, digest

SUCCESS_MARKER = "_SUCCESS"
_SAFE_LAKE_PATH = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
_EXTENSIONS = {"jsonl": (".jsonl.gz", ".jsonl"), "csv": (".csv",), "parquet": (".parquet",)}


@dataclass(frozen=True)
class LakeFile:
    """One data file of a lake partition."""

    path: Path
    relative: str
    size: int
    mtime_ns: int


class Lake:
    """A lake folder, hive-partitioned by delivery day (`<table path>/dt=YYYY-MM-DD/`)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def partition_dir(self, table: LakeTable, dt: date) -> Path:
        """The folder of one table's partition, refusing paths that leave the lake."""
        if not _SAFE_LAKE_PATH.match(table.lake_path):
            raise InvalidParameter(
                f"lake_path {table.lake_path!r} of source table {table.name} must be "
                "lowercase words separated by '/'"
            )
        folder = (self.root / table.lake_path / f"dt={dt.isoformat()}").resolve()
        if not folder.is_relative_to(self.root):
            raise InvalidParameter(f"partition folder {folder} is outside the lake {self.root}")
        return folder

    def is_complete(self, table: LakeTable, dt: date) -> bool:
        """True when the partition's _SUCCESS marker exists."""
        return (self.partition_dir(table, dt) / SUCCESS_MARKER).is_file()

    def files(self, table: LakeTable, dt: date) -> list[LakeFile]:
        """The data files of a complete partition, sorted by name."""
        folder = self.partition_dir(table, dt)
        if not folder.is_dir():
            raise PartitionIncomplete(
                f"lake partition {folder} does not exist: {table.name} for {dt} has not been "
                "delivered"
            )
        if not (folder / SUCCESS_MARKER).is_file():
            raise PartitionIncomplete(
                f"lake partition {folder} has no {SUCCESS_MARKER} marker: its delivery is not "
                "complete; wait for it or re-deliver it"
            )
        found: list[LakeFile] = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith(("_", ".")) or not path.name.endswith(
                _EXTENSIONS[table.format]
            ):
                continue
            real = path.resolve()
            if not real.is_relative_to(self.root):
                raise InvalidParameter(f"lake file {path} links outside the lake {self.root}")
            stat = real.stat()
            found.append(
                LakeFile(real, str(path.relative_to(self.root)), stat.st_size, stat.st_mtime_ns)
            )
        if not found and table.format != "jsonl":
            raise PartitionIncomplete(
                f"lake partition {folder} is marked complete but holds no {table.format} file: "
                f"the {table.name} dump for {dt} is missing"
            )
        return found

    def days(self, table: LakeTable) -> list[date]:
        """The complete partitions of a table, oldest first."""
        base = self.root / table.lake_path
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


def fingerprint(lake: Lake, tables: tuple[LakeTable, ...], dt: date) -> str:
    """A digest of what lake day dt holds: every file's path, size and mtime, and the markers."""
    entries: list[tuple[str, int, int]] = []
    for table in tables:
        folder = lake.partition_dir(table, dt)
        if not folder.is_dir():
            entries.append((f"{table.lake_path}: missing", 0, 0))
            continue
        for path in sorted(folder.iterdir()):
            stat = path.stat()
            entries.append((str(path.relative_to(lake.root)), stat.st_size, stat.st_mtime_ns))
    return digest(entries)


def last_complete_day(lake: Lake, tables: tuple[LakeTable, ...]) -> date:
    """The latest lake day whose every table is complete."""
    complete = set.intersection(*(set(lake.days(table)) for table in tables))
    if not complete:
        raise PartitionIncomplete(f"no complete lake day under {lake.root}")
    return max(complete)
