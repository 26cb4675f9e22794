"""Faults put into one lake day for the flow checks, each undone exactly (same bytes, same mtime).

An unreadable events file (its bytes are not gzip) makes landing fail, as a truncated upload
would; an empty companies dump (its header, no rows) passes landing but the raw gate refuses it
(raw.companies: a dump must have a row). Restoring the original file keeps the lake day's
fingerprint, so the ledger sees the same inputs as before the fault.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from flows.errors import SluiceError

EVENTS_TABLE = "events"
EMPTY_DUMP_TABLE = "companies"


class LakeFaultFailed(SluiceError):
    """The sample lake does not have the file a fault needs."""


def _only_file(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise LakeFaultFailed(f"{folder}: expected one {pattern} file to put a fault in: {found}")
    return found[0]


@contextmanager
def _replaced(path: Path) -> Iterator[Path]:
    """Move the file aside for the fault; put it back (bytes and mtime) afterwards."""
    aside = path.with_name(path.name + ".aside")
    os.replace(path, aside)
    try:
        yield aside
    finally:
        path.unlink(missing_ok=True)
        os.replace(aside, path)


@contextmanager
def unreadable_events(lake: Path, day: date) -> Iterator[Path]:
    """The day's events file holds bytes that are not gzip while the block runs."""
    path = _only_file(lake / EVENTS_TABLE / f"dt={day.isoformat()}", "*.jsonl.gz")
    with _replaced(path):
        path.write_bytes(b"this upload was cut short\n")
        yield path


@contextmanager
def empty_dump(lake: Path, day: date) -> Iterator[Path]:
    """The day's companies dump (a CSV) has its header and no row while the block runs."""
    path = _only_file(lake / "dumps" / EMPTY_DUMP_TABLE / f"dt={day.isoformat()}", "*.csv")
    with _replaced(path) as original:
        with original.open("rb") as dump:
            header = dump.readline()
        path.write_bytes(header)
        yield path
