"""Reading a lake file of JSON lines: its physical lines, numbered from 1, in bounded batches."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

from flows.errors import UnreadableFile, first_line
from flows.lake.layout import LakeFile

# Lines handed on per batch: bounds the copy a batch makes of a large file's lines.
LINES_PER_BATCH = 100_000


def _read_bytes(lake_file: LakeFile) -> bytes:
    try:
        if lake_file.path.name.endswith(".gz"):
            with gzip.open(lake_file.path, "rb") as handle:
                return handle.read()
        return lake_file.path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"cannot read lake file {lake_file.path}: {first_line(exc)}") from exc


def line_batches(
    lake_file: LakeFile, size: int = LINES_PER_BATCH
) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the batch's first line, its lines without their newline), in file order.

    The newline that ends the last line does not start another; bytes are kept as they are
    (a line that is not UTF-8 is the quarantine's business, not the reader's).
    """
    lines = _read_bytes(lake_file).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for first in range(0, len(lines), size):
        yield first + 1, lines[first : first + size]
