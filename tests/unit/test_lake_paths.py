"""The lake refuses paths that leave it: traversal in a lake_path, symlinked folders and files,
unsafe bucket URLs and object names."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from flows.errors import InvalidParameter, UnreadableFile
from flows.lake.folder import FolderLake
from flows.lake.layout import safe_segment
from flows.lake.location import BucketLocation
from flows.project.lake_tables import LakeTable
from flows.settings import Settings

DAY = date(2026, 11, 1)


def _table(lake_path: str, fmt: str = "jsonl") -> LakeTable:
    return LakeTable("events", "app", lake_path, fmt, ())


@pytest.mark.parametrize(
    "lake_path", ["../outside", "events/../../outside", "/etc", "events/", "Events", "a//b", ""]
)
def test_a_lake_path_that_could_leave_the_lake_is_refused(lake_path: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="must be lowercase words separated by '/'"):
        FolderLake(tmp_path).partition_dir(_table(lake_path), DAY)


def test_a_partition_folder_linked_outside_the_lake_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "_SUCCESS").touch()
    (tmp_path / "lake" / "events").mkdir(parents=True)
    (tmp_path / "lake" / "events" / f"dt={DAY}").symlink_to(outside)
    with pytest.raises(InvalidParameter, match="is outside the lake"):
        FolderLake(tmp_path / "lake").files(_table("events"), DAY)


def test_a_file_linked_outside_the_lake_is_refused_and_one_inside_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "lake" / "events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "_SUCCESS").touch()
    (folder / "part-0.jsonl").write_text("{}\n")
    (folder / "part-1.jsonl").symlink_to(folder / "part-0.jsonl")
    lake = FolderLake(tmp_path / "lake")
    assert [f.relative for f in lake.files(_table("events"), DAY)] == [
        f"events/dt={DAY}/part-0.jsonl",
        f"events/dt={DAY}/part-1.jsonl",
    ]
    (tmp_path / "secret.jsonl").write_text('{"password": 1}\n')
    (folder / "part-2.jsonl").symlink_to(tmp_path / "secret.jsonl")
    with pytest.raises(InvalidParameter, match=r"part-2\.jsonl links outside the lake"):
        lake.files(_table("events"), DAY)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("gs://sluice-lake", "sluice-lake", ""),
        ("gs://sluice-lake/", "sluice-lake", ""),
        ("gs://sluice.lake_1/landing/v1/", "sluice.lake_1", "landing/v1/"),
        ("gs://abc/dt=x/y-z", "abc", "dt=x/y-z/"),
    ],
)
def test_a_bucket_url_is_split_into_bucket_and_prefix(url: str, bucket: str, prefix: str) -> None:
    where = BucketLocation.parse(url)
    assert (where.bucket, where.prefix) == (bucket, prefix)
    assert where.url("events/x") == f"gs://{bucket}/{prefix}events/x"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("s3://bucket/lake", "is not a gs://bucket/prefix URL"),
        ("gs://Bucket/lake", "is not a Cloud Storage bucket name"),
        ("gs://ab/lake", "is not a Cloud Storage bucket name"),
        ("gs://a..b/lake", "is not a Cloud Storage bucket name"),
        ("gs://bucket/../lake", "'..' is not a safe name"),
        ("gs://bucket/a//b", "'' is not a safe name"),
        ("gs://bucket/a/..x/b", "'..x' is not a safe name"),
        ("gs://bucket/a b", "'a b' is not a safe name"),
        ("gs://bucket/.hidden", "'.hidden' is not a safe name"),
    ],
)
def test_an_unsafe_bucket_url_is_refused_naming_it(url: str, why: str) -> None:
    with pytest.raises(InvalidParameter, match=re.escape(why)) as raised:
        BucketLocation.parse(url)
    assert repr(url) in str(raised.value)


@pytest.mark.parametrize("name", ["..", "a..jsonl", "a/b.jsonl", "a\\b.jsonl", "x\n.jsonl", ""])
def test_an_unsafe_object_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidParameter, match="is not a safe name"):
        safe_segment(name, "lake object")


def test_the_setting_lake_takes_a_folder_or_a_bucket(tmp_path: Path) -> None:
    bucket = Settings(lake="gs://sluice-lake/landing", state=tmp_path / "s.sqlite").resolved()
    assert bucket.lake == BucketLocation("sluice-lake", "landing/")
    assert str(bucket.lake) == "gs://sluice-lake/landing"
    with pytest.raises(InvalidParameter, match="is a bucket; this needs a lake folder"):
        _ = bucket.lake_folder
    folder = Settings(lake=str(tmp_path / "lake")).resolved()
    assert folder.lake == folder.lake_folder == tmp_path / "lake"
    with pytest.raises(ValidationError, match="is not a Cloud Storage bucket name"):
        Settings(lake="gs://x/lake")


@pytest.mark.parametrize("name", ["[_]users.csv", "u*.csv", "users?.csv", "{a,b}.csv", "a b.csv"])
def test_a_data_file_with_an_unsafe_name_fails_the_partition_naming_it(
    tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "lake" / "users" / f"dt={DAY}"
    folder.mkdir(parents=True)
    for plain in ("_SUCCESS", "users.csv", "_users.csv", ".users.csv.crc", "notes.txt"):
        (folder / plain).write_text("id\n")
    (folder / name).write_text("id\n")
    with pytest.raises(UnreadableFile, match=re.escape(f"{folder / name}: {name!r} is not a safe")):
        FolderLake(tmp_path / "lake").files(_table("users", "csv"), DAY)
    (folder / name).unlink()  # markers, hidden and other files are not data files
    found = FolderLake(tmp_path / "lake").files(_table("users", "csv"), DAY)
    assert [f.relative for f in found] == [f"users/dt={DAY}/users.csv"]
