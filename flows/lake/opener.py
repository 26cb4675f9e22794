"""Opening the lake of the settings: a folder, or a bucket when `lake` is a gs:// URL."""

from __future__ import annotations

from flows.lake.bucket import BucketLake
from flows.lake.folder import FolderLake
from flows.lake.layout import Lake
from flows.lake.location import BucketLocation
from flows.settings import Settings


def open_lake(settings: Settings) -> Lake:
    """The lake of the settings: a folder, or a bucket when `lake` is a gs:// URL."""
    if isinstance(settings.lake, BucketLocation):
        return BucketLake.from_settings(settings)
    return FolderLake(settings.lake, settings.max_file_bytes)
