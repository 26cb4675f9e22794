"""Reading a lake file of JSON lines: its physical lines, numbered from 1, streamed in batches.

A file is read (and, when gzipped, decompressed) a block at a time, so memory stays bounded by
the block and the longest line whatever the file's size; each batch is one Arrow array of the
lines between two block boundaries, split by Arrow, with no Python object per line. Bytes are
kept as they are: a line that is not UTF-8 is the quarantine's business, not the reader's.
`read_ahead` reads the next batch on a thread while the caller works on the one before.
"""

from __future__ import annotations

import contextlib
import gzip
import queue
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from flows.errors import UnreadableFile, first_line
from flows.lake.layout import LakeFile

# Bytes read (decompressed) per block: a batch holds the whole lines of about one block. Each
# batch pays its statements' fixed costs: with the next block read ahead, a 100k-line day
# landed in 0.425-0.431 s in 8 MiB blocks, 0.405-0.439 s in 16 MiB ones (which hold more
# memory), against 0.50-0.54 s in 4 MiB blocks read in turn (benchmarks/README.md, 2026-12-07).
BLOCK_BYTES = 8 * 1024 * 1024

T = TypeVar("T")
_END = object()


@dataclass(frozen=True)
class LineBatch:
    """Consecutive physical lines of a file, without their newline."""

    first: int  # the 1-based number of the batch's first line
    lines: pa.Array  # large_binary, one item per line

    def __len__(self) -> int:
        return len(self.lines)


def _split(text: bytes | memoryview) -> pa.Array:
    """The lines of text (which holds no final newline) as one Arrow array, without copying."""
    offsets = pa.py_buffer(struct.pack("<qq", 0, len(text)))
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(text)])
    return pc.split_pattern(whole, pattern=b"\n").values


def _too_big(lake_file: LakeFile, max_bytes: int) -> UnreadableFile:
    return UnreadableFile(
        f"lake file {lake_file.path} holds more than {max_bytes} bytes"
        f"{' once decompressed' if _gzipped(lake_file) else ''}, the limit max_file_bytes "
        "(SLUICE_MAX_FILE_BYTES): split the delivery into smaller files, or raise the limit "
        "if the file is genuine"
    )


def _gzipped(lake_file: LakeFile) -> bool:
    return lake_file.path.name.endswith(".gz")


def _open(lake_file: LakeFile) -> BinaryIO:
    if _gzipped(lake_file):
        return gzip.open(lake_file.path, "rb")  # type: ignore[return-value]
    return lake_file.path.open("rb")


def _blocks(handle: BinaryIO, lake_file: LakeFile, max_bytes: int, block: int) -> Iterator[bytes]:
    """The file's bytes a block at a time; refuses a file that holds more than max_bytes."""
    total = 0
    while chunk := handle.read(min(block, max_bytes - total + 1)):
        total += len(chunk)
        if total > max_bytes:
            raise _too_big(lake_file, max_bytes)
        yield chunk


def line_batches(
    lake_file: LakeFile, max_bytes: int, block: int = BLOCK_BYTES
) -> Iterator[LineBatch]:
    """The file's lines in order, a batch per block read; the newline that ends the last line
    does not start another. A corrupt or oversized file fails naming it (after some batches)."""
    if not _gzipped(lake_file) and lake_file.size > max_bytes:
        raise _too_big(lake_file, max_bytes)
    number = 1
    pending: list[bytes] = []  # the start of a line that no block read so far has ended
    try:
        with _open(lake_file) as handle:
            for chunk in _blocks(handle, lake_file, max_bytes, block):
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    pending.append(chunk)
                    continue
                ended = memoryview(chunk)[:cut]
                lines = _split(b"".join([*pending, ended]) if pending else ended)
                pending = [chunk[cut + 1 :]] if cut + 1 < len(chunk) else []
                yield LineBatch(number, lines)
                number += len(lines)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"cannot read lake file {lake_file.path}: {first_line(exc)}") from exc
    if pending:
        yield LineBatch(number, _split(b"".join(pending)))


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of `items` in order, made on a reader thread while the caller works on the one
    before (one item waits at most): reading and decompressing the next block of a lake
    file overlaps the SQL that lands the last one. The reader's error is raised here, in order;
    a caller that stops early stops the reader (and closes `items`) before this returns."""
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def read() -> None:
        error: BaseException | None = None
        try:
            for item in items:
                handoff.put((item, None))
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the caller's thread, raised there
            error = exc
        try:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        except BaseException as exc:
            error = error or exc
        handoff.put((_END, error))  # a caller that stopped takes it while it waits for this

    reader = threading.Thread(target=read, name="sluice-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item, error = handoff.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while reader.is_alive():  # a reader blocked on a full hand-off: take what it offers
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        reader.join()
