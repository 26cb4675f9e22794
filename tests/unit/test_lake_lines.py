"""Reading a JSON-lines lake file streams it: exact physical lines and numbers across blocks,
bytes kept as they are, a cap on the decompressed size, memory that does not grow with the
file, and the next block read while the last one is landed."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.errors import UnreadableFile
from flows.lake.layout import LakeFile
from flows.lake.lines import line_batches, read_ahead


def _file(path: Path, content: bytes, gz: bool) -> LakeFile:
    path = path.with_name(path.name + (".jsonl.gz" if gz else ".jsonl"))
    if gz:
        with gzip.open(path, "wb") as handle:
            handle.write(content)
    else:
        path.write_bytes(content)
    return LakeFile(path, path.name, path.stat().st_size, 0)


def _read(lake_file: LakeFile, block: int, max_bytes: int = 10**9) -> list[tuple[int, bytes]]:
    found = []
    for batch in line_batches(lake_file, max_bytes, block=block):
        found += [(batch.first + i, line) for i, line in enumerate(batch.lines.to_pylist())]
    return found


def _expected(content: bytes) -> list[tuple[int, bytes]]:
    lines = content.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline that ends the last line does not start another
    return list(enumerate(lines, start=1))


@settings(max_examples=300, deadline=None)
@given(
    content=st.lists(
        st.sampled_from([b"\n", b"{}", b'{"a": "\xc3\xa9"}', b"\xff\xfe", b" ", b"\r", b"x" * 40]),
        max_size=40,
    ).map(b"".join),
    block=st.integers(min_value=1, max_value=64),
    gz=st.booleans(),
)
def test_every_physical_line_comes_once_with_its_number_and_bytes(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, block: int, gz: bool
) -> None:
    lake_file = _file(tmp_path_factory.mktemp("lines") / "part", content, gz)
    assert _read(lake_file, block) == _expected(content)


@pytest.mark.parametrize("gz", [True, False])
def test_a_file_over_the_cap_fails_naming_the_file_and_the_cap(tmp_path: Path, gz: bool) -> None:
    lake_file = _file(tmp_path / "part", b'{"event_id": "e"}\n' * 1000, gz)  # 18,000 bytes
    assert len(_read(lake_file, block=4096, max_bytes=18_000)) == 1000
    with pytest.raises(UnreadableFile, match=re.escape(f"lake file {lake_file.path} holds more")):
        _read(lake_file, block=4096, max_bytes=17_999)
    with pytest.raises(UnreadableFile, match=r"than 17999 bytes.*max_file_bytes"):
        _read(lake_file, block=4096, max_bytes=17_999)


def test_a_corrupt_gzip_fails_naming_the_file(tmp_path: Path) -> None:
    lake_file = _file(tmp_path / "part", b'{"event_id": "e"}\n' * 10_000, gz=True)
    lake_file.path.write_bytes(lake_file.path.read_bytes()[:200])
    with pytest.raises(UnreadableFile, match=re.escape(f"cannot read lake file {lake_file.path}")):
        _read(lake_file, block=4096)


_PEAK = """
import resource, sys
from pathlib import Path
from flows.lake.layout import LakeFile
from flows.lake.lines import line_batches, read_ahead
path = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
lake_file = LakeFile(path, path.name, path.stat().st_size, 0)
lines = sum(len(b) for b in read_ahead(line_batches(lake_file, 2**40)))  # as landing reads
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(lines, (peak - before) // 1024)
"""


def test_memory_does_not_grow_with_the_decompressed_size(tmp_path: Path) -> None:
    # 128 MiB of lines in a gzip of ~0.5 MiB: read whole, they would take over 128 MiB.
    line = b'{"event_id": "e", "payload": "' + b"x" * 200 + b'"}\n'
    count = 128 * 1024 * 1024 // len(line)
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for _ in range(count // 10_000):
            handle.write(line * 10_000)
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, check=True
    )
    lines, grown_mib = map(int, done.stdout.split())
    assert lines == count // 10_000 * 10_000
    assert grown_mib < 96, f"peak memory grew by {grown_mib} MiB reading the file"


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sluice-read-ahead"]


def test_read_ahead_makes_the_next_item_while_the_caller_holds_the_last() -> None:
    second_made = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        second_made.set()
        yield 2
        raise UnreadableFile("cannot read lake file part-1.jsonl.gz: truncated")

    got = []
    with pytest.raises(UnreadableFile, match=re.escape("part-1.jsonl.gz: truncated")):
        for item in read_ahead(items()):
            if item == 1:  # the reader goes on while this item is being worked on
                assert second_made.wait(timeout=60)
            got.append(item)
    assert got == [1, 2]  # in order, and the reader's error only after what it read before
    assert _readers() == []


def test_a_caller_that_stops_early_stops_the_reader_and_closes_its_file() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield from range(1_000)
        finally:
            closed.set()

    ahead = read_ahead(items())
    assert next(ahead) == 0
    ahead.close()  # as when landing fails on the first batch
    assert closed.is_set()
    assert _readers() == []


def test_an_error_closing_the_source_reaches_the_caller() -> None:
    class Source(Iterator[int]):
        def __init__(self) -> None:
            self.left = [1]

        def __next__(self) -> int:
            if not self.left:
                raise StopIteration
            return self.left.pop()

        def close(self) -> None:
            raise UnreadableFile("cannot close lake file part-2.jsonl.gz")

    got: list[object] = []

    def consume() -> None:  # on a thread: a caller left waiting for ever fails, not hangs
        try:
            got.extend(read_ahead(Source()))
        except UnreadableFile as exc:
            got.append(exc)

    caller = threading.Thread(target=consume, daemon=True)
    caller.start()
    caller.join(timeout=60)
    assert not caller.is_alive(), "the caller still waits for the reader's end"
    assert got[0] == 1 and str(got[1]) == "cannot close lake file part-2.jsonl.gz"
    assert _readers() == []
