"""Lake fuzzing for tests: damage a lake partition, then check landing lost or doubled nothing.

Each named case damages one lake day the way deliveries go wrong in the wild; `random_lines`
makes seeded event lines from a grammar of faults. `conservation` counts the lake's records
independently of landing and compares them with raw + quarantine.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

Damage = Callable[[Path, date, random.Random], None]


def events_dir(lake: Path, day: date) -> Path:
    return lake / "events" / f"dt={day.isoformat()}"


def dump_dir(lake: Path, table: str, day: date) -> Path:
    return lake / "dumps" / table / f"dt={day.isoformat()}"


def read_events(lake: Path, day: date) -> list[bytes]:
    """The lines of the day's first events file."""
    part = sorted(events_dir(lake, day).glob("*.jsonl.gz"))[0]
    with gzip.open(part, "rb") as handle:
        return handle.read().splitlines()


def write_events(lake: Path, day: date, name: str, lines: list[bytes]) -> Path:
    path = events_dir(lake, day) / name
    with gzip.open(path, "wb") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))
    return path


def _valid_event(lake: Path, day: date) -> dict[str, Any]:
    return dict(json.loads(read_events(lake, day)[0]))


# ---- the named cases --------------------------------------------------------------------------


def truncated_gzip(lake: Path, day: date, rng: random.Random) -> None:
    part = sorted(events_dir(lake, day).glob("*.jsonl.gz"))[0]
    data = part.read_bytes()
    part.write_bytes(data[: rng.randint(20, len(data) - 10)])


def empty_files(lake: Path, day: date, rng: random.Random) -> None:
    (events_dir(lake, day) / "part-00090.jsonl.gz").write_bytes(b"")  # not even a gzip header
    write_events(lake, day, "part-00091.jsonl.gz", [])  # a valid gzip of nothing
    (events_dir(lake, day) / "part-00092.jsonl").write_bytes(b"")


def only_malformed_lines(lake: Path, day: date, rng: random.Random) -> None:
    lines = [b"{", b"}", b"not json", b'{"a": 1,}', b"[]", b"null", b"42", b'"text"', b"  "]
    write_events(lake, day, "part-00093.jsonl.gz", [rng.choice(lines) for _ in range(40)])


def non_utf8_bytes(lake: Path, day: date, rng: random.Random) -> None:
    good = read_events(lake, day)[:5]
    bad = [b"\xff\xfe\xfd", b'{"event_id": "\xc3\x28"}', b"\x80" * 10, b"\xed\xa0\x80"]
    write_events(lake, day, "part-00094.jsonl.gz", [*good, *bad, b"\x00\x00", good[0]])


def huge_lines(lake: Path, day: date, rng: random.Random) -> None:
    event = _valid_event(lake, day)
    event["app_version"] = "x" * 12_000_000
    huge_valid = json.dumps(event).encode()
    write_events(lake, day, "part-00095.jsonl.gz", [huge_valid, b"y" * 9_000_000, b"{}"])


_WRONG = {str: [1, 2.5, True, [], {}], int: ["eight", 1.5, [], {}], float: ["x", []]}


def wrong_types_everywhere(lake: Path, day: date, rng: random.Random) -> None:
    event = _valid_event(lake, day)
    lines = []
    for key, value in event.items():
        for wrong in _WRONG.get(type(value), ["x"]):
            lines.append(json.dumps({**event, key: wrong}).encode())
    everything = {key: rng.choice(_WRONG.get(type(v), ["x"])) for key, v in event.items()}
    lines.append(json.dumps(everything).encode())
    write_events(lake, day, "part-00096.jsonl.gz", lines)


def unknown_event_types(lake: Path, day: date, rng: random.Random) -> None:
    event = _valid_event(lake, day)
    kinds = ["purchase", "", "SEARCH", "click ", "null", "💥", "x" * 300]
    write_events(
        lake,
        day,
        "part-00097.jsonl.gz",
        [json.dumps({**event, "event_type": kind}).encode() for kind in kinds],
    )


def null_keys(lake: Path, day: date, rng: random.Random) -> None:
    event = _valid_event(lake, day)
    lines = [json.dumps({**event, key: None}).encode() for key in event]
    lines += [json.dumps({k: v for k, v in event.items() if k != key}).encode() for key in event]
    write_events(lake, day, "part-00098.jsonl.gz", lines)


def duplicate_files(lake: Path, day: date, rng: random.Random) -> None:
    folder = events_dir(lake, day)
    for part in sorted(folder.glob("*.jsonl.gz")):
        shutil.copy2(part, folder / part.name.replace("part-", "part-copy-"))


def far_future_and_past(lake: Path, day: date, rng: random.Random) -> None:
    event = _valid_event(lake, day)
    moments = [
        "9999-12-31T23:59:59Z",
        "2999-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "2026-11-01T25:61:00Z",
        "",
    ]
    write_events(
        lake,
        day,
        "part-00099.jsonl.gz",
        [json.dumps({**event, "event_time": m}).encode() for m in moments],
    )


def dropped_dump_table(lake: Path, day: date, rng: random.Random) -> None:
    shutil.rmtree(dump_dir(lake, "jobs", day))


def dump_without_its_file(lake: Path, day: date, rng: random.Random) -> None:
    for path in dump_dir(lake, "companies", day).glob("*.csv"):
        path.unlink()


def _rewrite_csv(path: Path, change: Callable[[list[list[str]]], list[list[str]]]) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(change(rows))
    path.write_text(buffer.getvalue())


def extra_column_in_dump(lake: Path, day: date, rng: random.Random) -> None:
    path = next(dump_dir(lake, "users", day).glob("*.csv"))
    _rewrite_csv(path, lambda rows: [[*rows[0], "referral_code"]] + [[*r, "R1"] for r in rows[1:]])


def csv_columns_reordered(lake: Path, day: date, rng: random.Random) -> None:
    path = next(dump_dir(lake, "jobs", day).glob("*.csv"))

    def shuffle(rows: list[list[str]]) -> list[list[str]]:
        order = list(range(len(rows[0])))
        rng.shuffle(order)
        return [[row[i] for i in order] for row in rows]

    _rewrite_csv(path, shuffle)


def csv_header_only_and_ragged(lake: Path, day: date, rng: random.Random) -> None:
    path = next(dump_dir(lake, "companies", day).glob("*.csv"))
    lines = path.read_text().splitlines()
    extra = [",".join(["x"] * (lines[0].count(",") + 3)), "only_one", '"unterminated,quote']
    path.write_text("\n".join([*lines, *extra]) + "\n")


def empty_csv(lake: Path, day: date, rng: random.Random) -> None:
    next(dump_dir(lake, "users", day).glob("*.csv")).write_bytes(b"")


def corrupt_parquet(lake: Path, day: date, rng: random.Random) -> None:
    path = next(dump_dir(lake, "applications", day).glob("*.parquet"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def parquet_with_extra_column(lake: Path, day: date, rng: random.Random) -> None:
    import pyarrow as pa

    path = next(dump_dir(lake, "ab_patterns", day).glob("*.parquet"))
    table = pq.read_table(path)
    table = table.append_column("note", pa.array(["n"] * table.num_rows))
    pq.write_table(table.select(list(reversed(table.column_names))), path)


def symlink_out_of_the_lake(lake: Path, day: date, rng: random.Random) -> None:
    outside = lake.parent / "outside.jsonl.gz"
    shutil.copy2(sorted(events_dir(lake, day).glob("*.jsonl.gz"))[0], outside)
    (events_dir(lake, day) / "part-00100.jsonl.gz").symlink_to(outside)


def directory_named_like_a_file(lake: Path, day: date, rng: random.Random) -> None:
    (events_dir(lake, day) / "part-00101.jsonl.gz").mkdir()


def random_event_file(lake: Path, day: date, rng: random.Random) -> None:
    write_events(lake, day, "part-00102.jsonl.gz", random_lines(_valid_event(lake, day), rng, 60))


CASES: dict[str, Damage] = {
    "truncated gzip": truncated_gzip,
    "empty files": empty_files,
    "only malformed lines": only_malformed_lines,
    "non-UTF-8 bytes": non_utf8_bytes,
    "huge lines": huge_lines,
    "wrong types in every field": wrong_types_everywhere,
    "unknown event types": unknown_event_types,
    "null keys": null_keys,
    "duplicate files": duplicate_files,
    "events far in the future or past": far_future_and_past,
    "a dropped dump table": dropped_dump_table,
    "a dump without its file": dump_without_its_file,
    "an extra column in a CSV dump": extra_column_in_dump,
    "a CSV with changed column order": csv_columns_reordered,
    "a CSV with ragged rows": csv_header_only_and_ragged,
    "an empty CSV dump": empty_csv,
    "a corrupt Parquet dump": corrupt_parquet,
    "a Parquet dump with an extra column": parquet_with_extra_column,
    "a symlink out of the lake": symlink_out_of_the_lake,
    "a directory named like a file": directory_named_like_a_file,
    "random faulty event lines": random_event_file,
}


# ---- random lines ----------------------------------------------------------------------------


def random_lines(event: dict[str, Any], rng: random.Random, count: int) -> list[bytes]:
    """Seeded event lines, most damaged in one of many ways."""
    faults: list[Callable[[], bytes]] = [
        lambda: json.dumps(event).encode(),
        lambda: json.dumps({**event, rng.choice(list(event)): _random_value(rng)}).encode(),
        lambda: json.dumps({k: v for k, v in event.items() if rng.random() < 0.7}).encode(),
        lambda: json.dumps({**event, "new_field": _random_value(rng)}).encode(),
        lambda: json.dumps(event).encode()[: rng.randint(0, 60)],
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))).replace(b"\n", b""),
        lambda: json.dumps(_random_value(rng)).encode(),
        lambda: b"  " + json.dumps(event).encode() + b"\r",
        lambda: json.dumps(event, ensure_ascii=False).encode() + b" trailing",
    ]
    return [rng.choice(faults)() for _ in range(count)]


def _random_value(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.randint(-(2**70), 2**70)
    if kind == 2:
        return rng.random() * 10 ** rng.randint(-5, 300)
    if kind == 3:
        return "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 20)))
    if kind == 4:
        return [rng.randint(0, 9) for _ in range(3)]
    if kind == 5:
        return {"nested": {"deeper": rng.random()}}
    if kind == 6:
        return rng.choice([True, False])
    return f"2026-11-{rng.randint(-3, 40):02d}T00:00:00Z"


# ---- counting the lake independently ----------------------------------------------------------


@dataclass(frozen=True)
class Conservation:
    """Records in the lake vs rows in raw and quarantine, for one day."""

    lake_records: int
    raw_rows: int
    quarantined: int
    duplicates: int
    without_reason: int

    @property
    def lost(self) -> int:
        return self.lake_records - self.raw_rows - self.quarantined + self.duplicates


def _records(path: Path, fmt: str) -> int:
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    if fmt == "jsonl":
        return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    lines = data.splitlines()
    return max(len(lines) - 1, 0)  # the header is not a record (no quoted newlines here)


def conservation(
    con: duckdb.DuckDBPyConnection, lake: Path, tables: Any, day: date
) -> Conservation:
    """Count every record of the day's lake files and where it ended up."""
    from flows.lake.folder import FolderLake

    folder = FolderLake(lake)
    lake_records = sum(
        _records(f.path, table.format) for table in tables for f in folder.files(table, day)
    )
    raw_rows = 0
    for table in tables:
        raw_rows += con.execute(
            f"select count(*) from raw.{table.name} where dt = $d", {"d": day}
        ).fetchone()[0]
    quarantined, without_reason = con.execute(
        "select count(*), count(*) filter (where reason is null or reason = '') "
        "from raw.quarantine where dt = $d",
        {"d": day},
    ).fetchone()
    names = " union all ".join(
        f"select '{t.name}' as t, source_file, line_number from raw.{t.name} where dt = $d"
        for t in tables
    )
    duplicates = con.execute(
        f"""select coalesce(sum(n - 1), 0) from (
            select count(*) as n from (
                {names}
                union all
                select source_table, source_file, line_number from raw.quarantine where dt = $d
            ) group by t, source_file, line_number having count(*) > 1)""",
        {"d": day},
    ).fetchone()[0]
    return Conservation(lake_records, raw_rows, quarantined, int(duplicates), without_reason)
