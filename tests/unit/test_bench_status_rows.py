"""The read-only benchmark counts the rows of `sluice status`, not the lines of a long reason
folded under its last column (the lake path it names may break right before a date)."""

from __future__ import annotations

from benchmarks.bench_read_only_commands import ROW

STATUS = """\
 date        step   state      tries  rows out  why
 ──────────────────────────────────────────────────────────────────────────────
 2026-01-07  marts  succeeded      1
 2026-01-08  raw    failed         1            PartitionIncomplete: lake
                                                /tmp/bench-a/target/bench/lakes
                                                /2026-01-01-8d-1000e/events/dt=
                                                2026-01-08 has no _SUCCESS
 2026-01-08  dwh    never run      0
"""


def test_only_the_table_rows_are_counted() -> None:
    assert ROW.findall(STATUS) == [" 2026-01-07 ", " 2026-01-08 ", " 2026-01-08 "]
