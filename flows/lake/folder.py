"""A lake folder on this machine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from flows.errors import InvalidParameter
from flows.lake.layout import (
    MAX_FILE_BYTES,
    SUCCESS_MARKER,
    Entry,
    LakeFile,
    LakeFiles,
    check_not_empty,
    is_data_file,
    lake_path,
    missing,
    unmarked,
)
from flows.project.lake_tables import LakeTable


class FolderLake:
    """A lake folder on this machine."""

    def __init__(self, root: Path, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.root = root.resolve()
        self.max_file_bytes = max_file_bytes

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
            if not is_data_file(table, path.name, str(path)):
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
