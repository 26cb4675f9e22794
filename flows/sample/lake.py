"""Generate a deterministic sample lake: app events with delivery faults, daily dumps, truth files.

Same LakeSpec, same bytes: one seed feeds independent random streams (dimensions, events,
applications, faults, file layout), gzip headers carry no time or name, and ids are a seeded
bijection of counters, so they are unique without a lookup. See docs/architecture.md for the
layout. This module is the entry point and writes the files; `spec` says what to generate,
`world` simulates the app database behind the dumps, `events` the event lines and their delivery
faults, and `truth` counts what is written into `_truth/dt=D.json`.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import shutil
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from flows.sample.dumps import applications_table, patterns_table
from flows.sample.events import (
    MALFORMED_REASONS,
    Delivery,
    EventSimulator,
    Ids,
    day_context,
    malformed_lines,
)
from flows.sample.spec import FaultRates, LakeSpec
from flows.sample.truth import TruthLedger
from flows.sample.world import (
    Company,
    Job,
    User,
    World,
    advance_applications,
    evolve_dimensions,
    initial_world,
)

__all__ = [
    "MALFORMED_REASONS",
    "MAX_LINES_PER_PART",
    "SUCCESS_MARKER",
    "FaultRates",
    "LakeSpec",
    "generate_lake",
]

MAX_LINES_PER_PART = 500_000
SUCCESS_MARKER = "_SUCCESS"
_GZIP_LEVEL = 6
_SHUFFLE_BLOCK = 64


def generate_lake(out: Path, spec: LakeSpec) -> list[date]:
    """Write the sample lake of `spec` under `out`; return the lake days written, oldest first."""
    root = random.Random(spec.seed)  # noqa: S311 - reproducible sample data, not security
    dims, events, apps, faults, layout = (random.Random(root.getrandbits(64)) for _ in range(5))  # noqa: S311
    ids = Ids(root.getrandbits(48), root.getrandbits(48))
    ledger = TruthLedger(spec.start, spec.days)
    world = initial_world(spec, dims)
    delivery = Delivery(spec, ledger, faults)
    simulator = EventSimulator(world, events, ids, delivery)
    written: list[date] = []
    for index in range(spec.days):
        day = spec.start + timedelta(days=index)
        evolve_dimensions(world, day, dims)
        advance_applications(world, day, apps)
        context = day_context(world, index, day)
        simulator.simulate_day(context)
        ledger.record_dumps(index, _write_dumps(out, day, world))
        on_time, later = delivery.take(index)
        junk = malformed_lines(world, context, ids, faults, ledger)
        lines = _lay_out(on_time, later + junk, layout)
        _write_events(out / "events" / f"dt={day.isoformat()}", lines)
        ledger.write(out, index)
        written.append(day)
    return written


# ---- files ---------------------------------------------------------------------------------


class _CsvRecord(Protocol):
    def row(self) -> tuple[str, ...]: ...


def _lay_out(on_time: list[str], extras: list[str], rng: random.Random) -> list[str]:
    """Delivery order: extras spread through the on-time lines, then a local shuffle."""
    rng.shuffle(extras)
    positions = sorted(int(rng.random() * (len(on_time) + 1)) for _ in extras)
    lines: list[str] = []
    previous = 0
    for position, line in zip(positions, extras, strict=True):
        lines.extend(on_time[previous:position])
        lines.append(line)
        previous = position
    lines.extend(on_time[previous:])
    for first in range(0, len(lines), _SHUFFLE_BLOCK):
        block = lines[first : first + _SHUFFLE_BLOCK]
        rng.shuffle(block)
        lines[first : first + _SHUFFLE_BLOCK] = block
    return lines


def _fresh_dir(folder: Path) -> Path:
    """An empty partition folder (a re-generated partition never keeps stale parts)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _write_events(folder: Path, lines: list[str]) -> None:
    """Gzipped part files of at most MAX_LINES_PER_PART lines, then the _SUCCESS marker."""
    _fresh_dir(folder)
    for part, first in enumerate(range(0, max(len(lines), 1), MAX_LINES_PER_PART)):
        chunk = lines[first : first + MAX_LINES_PER_PART]
        if chunk and chunk[-1] == "":  # a blank last line is easy for readers to drop
            keep = max((i for i, line in enumerate(chunk) if line), default=0)
            chunk[keep], chunk[-1] = chunk[-1], chunk[keep]
        with (
            (folder / f"part-{part:05d}.jsonl.gz").open("wb") as raw,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0
            ) as gz,
        ):
            for start in range(0, len(chunk), 50_000):
                gz.write(("\n".join(chunk[start : start + 50_000]) + "\n").encode())
    (folder / SUCCESS_MARKER).write_bytes(b"")


def _write_dumps(out: Path, day: date, world: World) -> dict[str, int]:
    """Every dump table's snapshot of `day`, each followed by its _SUCCESS; row counts."""

    def folder(table: str) -> Path:
        return _fresh_dir(out / "dumps" / table / f"dt={day.isoformat()}")

    rows = {
        "users": _write_csv(folder("users") / "users.csv", User.COLUMNS, world.users),
        "companies": _write_csv(
            folder("companies") / "companies.csv", Company.COLUMNS, world.companies
        ),
        "jobs": _write_csv(folder("jobs") / "jobs.csv", Job.COLUMNS, world.jobs),
        "applications": _write_parquet(
            folder("applications") / "applications.parquet", applications_table(world)
        ),
        "ab_patterns": _write_parquet(
            folder("ab_patterns") / "ab_patterns.parquet", patterns_table(world, day)
        ),
    }
    return rows


def _write_csv(path: Path, header: tuple[str, ...], records: Sequence[_CsvRecord]) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(record.row() for record in records)
    path.write_bytes(buffer.getvalue().encode())
    (path.parent / SUCCESS_MARKER).write_bytes(b"")
    return len(records)


def _write_parquet(path: Path, table: pa.Table) -> int:
    pq.write_table(table, path, compression="zstd")
    (path.parent / SUCCESS_MARKER).write_bytes(b"")
    return int(table.num_rows)
