"""The lake refuses paths that leave it: traversal in a lake_path, symlinked folders and files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from flows.errors import InvalidParameter
from flows.lake import Lake
from flows.project import LakeTable

DAY = date(2026, 11, 1)


def _table(lake_path: str, fmt: str = "jsonl") -> LakeTable:
    return LakeTable("events", "app", lake_path, fmt, ())


@pytest.mark.parametrize(
    "lake_path", ["../outside", "events/../../outside", "/etc", "events/", "Events", "a//b", ""]
)
def test_a_lake_path_that_could_leave_the_lake_is_refused(lake_path: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="must be lowercase words separated by '/'"):
        Lake(tmp_path).partition_dir(_table(lake_path), DAY)


def test_a_partition_folder_linked_outside_the_lake_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "_SUCCESS").touch()
    (tmp_path / "lake" / "events").mkdir(parents=True)
    (tmp_path / "lake" / "events" / f"dt={DAY}").symlink_to(outside)
    with pytest.raises(InvalidParameter, match="is outside the lake"):
        Lake(tmp_path / "lake").files(_table("events"), DAY)


def test_a_file_linked_outside_the_lake_is_refused_and_one_inside_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "lake" / "events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "_SUCCESS").touch()
    (folder / "part-0.jsonl").write_text("{}\n")
    (folder / "part-1.jsonl").symlink_to(folder / "part-0.jsonl")
    lake = Lake(tmp_path / "lake")
    assert [f.relative for f in lake.files(_table("events"), DAY)] == [
        f"events/dt={DAY}/part-0.jsonl",
        f"events/dt={DAY}/part-1.jsonl",
    ]
    (tmp_path / "secret.jsonl").write_text('{"password": 1}\n')
    (folder / "part-2.jsonl").symlink_to(tmp_path / "secret.jsonl")
    with pytest.raises(InvalidParameter, match=r"part-2\.jsonl links outside the lake"):
        lake.files(_table("events"), DAY)
