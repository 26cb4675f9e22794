"""A lake in a bucket, on a real Cloud Storage emulator (127.0.0.1): it lands as the folder does."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.errors import PartitionIncomplete, UnreadableFile
from flows.lake.bucket import BucketLake
from flows.lake.folder import FolderLake
from flows.lake.layout import Lake, fingerprint, last_complete_day
from flows.lake.opener import open_lake
from flows.sample.lake import generate_lake
from flows.sample.spec import LakeSpec
from flows.settings import Settings
from flows.warehouse.duckdb_landing import land_partition
from tests.support import table_checksums, truth
from tools.bq_check.emulator import free_port

START = date(2026, 11, 1)
DAYS = [START, START + timedelta(days=1)]
UNMARKED = START + timedelta(days=2)
BUCKET = "sluice-lake"
PREFIX = "landing/v1"
# Added to the second day's events: one invalid JSON, one non-UTF-8, one empty, one non-object.
BAD_LINES = b'{"event_id": "broken"\n\xff\xfe not utf-8\n\n[1, 2]\n'


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Cloud Storage emulator (in-memory) on a free port; STORAGE_EMULATOR_HOST points at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("gcs") / "emulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gcp_storage_emulator",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--in-memory",
                "--quiet",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        saved = os.environ.get("STORAGE_EMULATOR_HOST")
        try:
            _wait_ready(process, f"{url}/storage/v1/b", log)
            os.environ["STORAGE_EMULATOR_HOST"] = url
            yield url
        finally:
            if saved is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = saved
            process.terminate()
            process.wait(timeout=15)


def _wait_ready(process: subprocess.Popen[bytes], probe: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:  # loopback only
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        assert process.poll() is None, f"the emulator exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"the emulator did not start: {log.read_text()}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small lake days; the second with four bad lines added to its first events part."""
    root = tmp_path_factory.mktemp("bucket-lake")
    generate_lake(root, LakeSpec(start=START, days=2, events_per_day=300, seed=11))
    part = root / "events" / f"dt={DAYS[1]}" / "part-00000.jsonl.gz"
    part.write_bytes(gzip.compress(gzip.decompress(part.read_bytes()) + BAD_LINES))
    return root


@pytest.fixture(scope="module")
def bucket(emulator: str, folder: Path) -> Any:
    """The folder lake uploaded under gs://BUCKET/PREFIX, plus a day without its _SUCCESS."""
    from google.cloud import storage

    bucket = storage.Client(project="sluice-emulator").create_bucket(BUCKET)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        bucket.blob(f"{PREFIX}/{path.relative_to(folder)}").upload_from_filename(str(path))
    source = folder / "events" / f"dt={START}" / "part-00000.jsonl.gz"
    bucket.blob(f"{PREFIX}/events/dt={UNMARKED}/part-00000.jsonl.gz").upload_from_filename(
        str(source)
    )
    return bucket


def _bucket_lake(bucket: Any, tmp_path: Path) -> Lake:
    settings = Settings(lake=f"gs://{BUCKET}/{PREFIX}/", state=tmp_path / "state.sqlite")
    lake = open_lake(settings.resolved())
    assert isinstance(lake, BucketLake)
    return lake


def _land_all(project: Any, lake: Lake, warehouse: Path) -> list[Any]:
    con = duckdb.connect(str(warehouse))
    try:
        return [
            land_partition(
                con,
                lake,
                project.lake_tables,
                day,
                lateness_days=project.lateness_days,
                load_id="bucket-test",
            )
            for day in DAYS
        ]
    finally:
        con.close()


def test_landing_from_the_bucket_equals_landing_from_the_folder(
    project: Any, folder: Path, bucket: Any, tmp_path: Path
) -> None:
    lake = _bucket_lake(bucket, tmp_path)
    from_bucket = _land_all(project, lake, tmp_path / "bucket.duckdb")
    from_folder = _land_all(project, FolderLake(folder), tmp_path / "folder.duckdb")

    sums = table_checksums(tmp_path / "bucket.duckdb", ("raw",))
    assert sums == table_checksums(tmp_path / "folder.duckdb", ("raw",))
    assert set(sums) == {f"raw.{t.name}" for t in project.lake_tables} | {"raw.quarantine"}
    for day, b, f in zip(DAYS, from_bucket, from_folder, strict=True):
        expected = truth(folder, day)["lake"]["events"]
        added = 4 if day == DAYS[1] else 0
        assert (b.lines, b.landed, b.quarantined) == (f.lines, f.landed, f.quarantined)
        assert b.lines == b.landed + b.quarantined  # conservation
        events = next(t for t in b.tables if t.table == "events")
        assert events.lines == expected["lines"] + added
        assert events.landed == expected["valid_lines"]
        assert sum(events.quarantined.values()) == sum(expected["quarantined"].values()) + added
    con = duckdb.connect(str(tmp_path / "bucket.duckdb"))
    bad = con.execute(
        """select reason, count(*) from raw.quarantine where dt = $d
        and source_file = $f and raw_line in ('{"event_id": "broken"', '', '[1, 2]',
            '\\xFF\\xFE not utf-8')
        group by reason order by reason""",
        {"d": DAYS[1], "f": f"events/dt={DAYS[1]}/part-00000.jsonl.gz"},
    ).fetchall()
    raw_total = sum(n for key, (n, _) in sums.items() if key != "raw.quarantine")
    con.close()
    assert bad == [
        ("empty_line", 1),
        ("invalid_json", 1),
        ("not_an_object", 1),
        ("unreadable_line", 1),
    ]
    assert raw_total + sums["raw.quarantine"][0] == sum(b.lines for b in from_bucket)
    assert not any((tmp_path / "lake_cache").iterdir())  # each day's copy was removed


def test_a_bucket_partition_without_success_is_refused_naming_it(
    project: Any, bucket: Any, tmp_path: Path
) -> None:
    lake = _bucket_lake(bucket, tmp_path)
    events = next(t for t in project.lake_tables if t.name == "events")
    where = f"gs://{BUCKET}/{PREFIX}/events/dt={UNMARKED}/"
    assert (lake.exists(events, UNMARKED), lake.is_complete(events, UNMARKED)) == (True, False)
    assert (lake.exists(events, DAYS[0]), lake.is_complete(events, DAYS[0])) == (True, True)
    with (
        pytest.raises(PartitionIncomplete, match=f"lake partition {where} has no _SUCCESS"),
        lake.fetch((events,), UNMARKED),
    ):
        pass
    later = UNMARKED + timedelta(days=1)
    with (
        pytest.raises(PartitionIncomplete, match=f"events/dt={later}/ does not exist"),
        lake.fetch((events,), later),
    ):
        pass
    assert lake.days(events) == DAYS
    assert last_complete_day(lake, project.lake_tables) == DAYS[1]


def test_the_fingerprint_changes_when_an_object_is_rewritten(
    project: Any, bucket: Any, tmp_path: Path
) -> None:
    lake = _bucket_lake(bucket, tmp_path)
    before = fingerprint(lake, project.lake_tables, DAYS[0])
    assert fingerprint(lake, project.lake_tables, DAYS[0]) == before
    blob = bucket.blob(f"{PREFIX}/dumps/users/dt={DAYS[0]}/users.csv")
    blob.upload_from_string(blob.download_as_bytes())  # the same bytes: a new generation
    assert fingerprint(lake, project.lake_tables, DAYS[0]) != before
    assert fingerprint(lake, project.lake_tables, DAYS[1]) == fingerprint(
        lake, project.lake_tables, DAYS[1]
    )


def test_an_unsafe_object_name_is_refused(project: Any, bucket: Any, tmp_path: Path) -> None:
    day = START - timedelta(days=1)
    for name in ("_SUCCESS", "part..00000.jsonl"):
        bucket.blob(f"{PREFIX}/events/dt={day}/{name}").upload_from_string(b"{}\n")
    events = next(t for t in project.lake_tables if t.name == "events")
    lake = _bucket_lake(bucket, tmp_path)
    try:
        with (
            pytest.raises(UnreadableFile, match=r"part\.\.00000\.jsonl.* is not a safe name"),
            lake.fetch((events,), day),
        ):
            pass
    finally:
        for name in ("_SUCCESS", "part..00000.jsonl"):
            bucket.blob(f"{PREFIX}/events/dt={day}/{name}").delete()
