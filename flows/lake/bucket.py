"""A lake in a Cloud Storage bucket (`gs://bucket/prefix`): listed in place, landed from a copy.

A partition's data objects are downloaded, each at the generation that was listed, to a fresh
folder under the lake cache, read there exactly as files of a lake folder, and the folder is
removed when landing is done. Credentials: the emulator of `STORAGE_EMULATOR_HOST` when it is
set, else `SLUICE_BQ_KEYFILE`, else application-default credentials.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.errors import InvalidParameter, UnreadableFile
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
from flows.lake.location import BucketLocation
from flows.project.lake_tables import LakeTable

_DAY_MARKER = re.compile(r"dt=(\d{4}-\d{2}-\d{2})/" + SUCCESS_MARKER + "$")

if TYPE_CHECKING:
    from flows.settings import Settings


def storage_client(settings: Settings) -> Any:
    """A google-cloud-storage Client: the emulator, the key file, or application defaults."""
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):  # the client then uses anonymous credentials
        return storage.Client(project=settings.bq_project)
    if settings.bq_keyfile:
        return storage.Client.from_service_account_json(
            str(settings.bq_keyfile), project=settings.bq_project
        )
    return storage.Client(project=settings.bq_project)


class BucketLake:
    """A lake under a gs:// prefix, with the folder lake's layout and rules."""

    def __init__(
        self, where: BucketLocation, client: Any, cache: Path, max_file_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self.bucket = where
        self.client = client
        self.cache = cache
        self.max_file_bytes = max_file_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> BucketLake:
        """The bucket lake of settings.lake; partitions are copied under `lake_cache/`."""
        if not isinstance(settings.lake, BucketLocation):
            raise InvalidParameter(f"lake {settings.lake} is not a gs:// URL")
        return cls(
            settings.lake,
            storage_client(settings),
            settings.state_dir / "lake_cache",
            settings.max_file_bytes,
        )

    @property
    def location(self) -> str:
        return str(self.bucket)

    def _partition(self, table: LakeTable, dt: date) -> str:
        return f"{lake_path(table)}/dt={dt.isoformat()}/"

    def where(self, table: LakeTable, dt: date) -> str:
        return self.bucket.url(self._partition(table, dt))

    def _list(self, prefix: str, **options: Any) -> list[Any]:
        """The objects whose name (relative to the lake) starts with prefix."""
        from google.api_core import exceptions

        try:
            return list(
                self.client.list_blobs(
                    self.bucket.bucket, prefix=self.bucket.prefix + prefix, **options
                )
            )
        except exceptions.NotFound as exc:
            raise InvalidParameter(
                f"lake {self.bucket}: the bucket does not exist or the credentials cannot see it"
            ) from exc

    def _objects(self, table: LakeTable, dt: date) -> list[Any]:
        """The objects directly in the partition, sorted by name."""
        partition = self._partition(table, dt)
        found = self._list(partition, delimiter="/")
        return sorted(
            (b for b in found if b.name != self.bucket.prefix + partition), key=lambda b: b.name
        )

    def _relative(self, blob: Any) -> str:
        return str(blob.name)[len(self.bucket.prefix) :]

    def exists(self, table: LakeTable, dt: date) -> bool:
        return bool(self._list(self._partition(table, dt), max_results=1))

    def is_complete(self, table: LakeTable, dt: date) -> bool:
        marker = self.bucket.prefix + self._partition(table, dt) + SUCCESS_MARKER
        return bool(self.client.bucket(self.bucket.bucket).blob(marker).exists())

    def days(self, table: LakeTable) -> list[date]:
        base = f"{lake_path(table)}/"
        markers = self._list(base, match_glob=f"{self.bucket.prefix}{base}dt=*/{SUCCESS_MARKER}")
        days = set()
        for blob in markers:
            found = _DAY_MARKER.fullmatch(self._relative(blob)[len(base) :])
            if found:
                try:
                    days.add(date.fromisoformat(found.group(1)))
                except ValueError:
                    continue
        return sorted(days)

    def entries(self, table: LakeTable, dt: date) -> list[Entry]:
        objects = self._objects(table, dt)
        return [(self._relative(b), int(b.size or 0), int(b.generation)) for b in objects]

    @contextmanager
    def fetch(self, tables: tuple[LakeTable, ...], dt: date) -> Iterator[LakeFiles]:
        """Download the day's data objects to a fresh cache folder; remove it afterwards."""
        self.cache.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{dt.isoformat()}-", dir=self.cache))
        try:
            chosen = {table.name: self._data_objects(table, dt) for table in tables}
            yield {
                name: [self._download(blob, folder) for blob in blobs]
                for name, blobs in chosen.items()
            }
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _data_objects(self, table: LakeTable, dt: date) -> list[Any]:
        """The data objects of a complete partition; refuses unsafe names and missing markers."""
        where = self.where(table, dt)
        objects = self._objects(table, dt)
        if not objects:
            raise missing(where, table, dt)
        names = {self._relative(b).rsplit("/", 1)[-1]: b for b in objects}
        if SUCCESS_MARKER not in names:
            raise unmarked(where)
        chosen = []
        for name, blob in names.items():
            if is_data_file(table, name, self.bucket.url(self._relative(blob))):
                chosen.append(blob)
        check_not_empty(len(chosen), where, table, dt)
        return chosen

    def _download(self, blob: Any, folder: Path) -> LakeFile:
        """Copy one object, at the generation that was listed, into folder."""
        from google.api_core import exceptions

        relative, generation = self._relative(blob), int(blob.generation)
        local = folder / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            blob.download_to_filename(str(local), if_generation_match=generation)
        except (exceptions.NotFound, exceptions.PreconditionFailed) as exc:
            raise UnreadableFile(
                f"lake object {self.bucket.url(relative)} changed or vanished while it was read "
                f"(listed generation {generation}): re-run the day"
            ) from exc
        size = local.stat().st_size
        if size != int(blob.size or 0):
            raise UnreadableFile(
                f"lake object {self.bucket.url(relative)}: downloaded {size} bytes, listed "
                f"{blob.size}"
            )
        return LakeFile(local, relative, size, generation)
