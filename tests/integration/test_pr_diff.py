"""The PR check's data diff on two small DuckDB builds: by key per date, and without a key."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tools.pr_review.diff import Table, diff_builds

BASE_ROWS = """
    (date '2026-11-01', 'ios', 10, 0.5), (date '2026-11-01', 'web', 20, 0.25),
    (date '2026-11-02', 'ios', 30, 0.1), (date '2026-11-02', 'web', 40, 0.2)
"""
# 11-01 ios: ctr changed; 11-01 web: users and ctr changed; 11-02 ios removed; android added.
PR_ROWS = """
    (date '2026-11-01', 'ios', 10, 0.6), (date '2026-11-01', 'web', 21, 0.3),
    (date '2026-11-02', 'web', 40, 0.2), (date '2026-11-02', 'android', 5, null)
"""


def _build(folder: Path, rows: str) -> Path:
    folder.mkdir()
    path = folder / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute(
            "create table marts.kpis (event_date date, platform varchar, users bigint,"
            " ctr decimal(28, 6))"
        )
        con.execute(f"insert into marts.kpis values {rows}")
    finally:
        con.close()
    return path


def test_a_keyed_diff_counts_added_removed_and_changed_rows_per_date_and_column(
    tmp_path: Path,
) -> None:
    base, pr = _build(tmp_path / "base", BASE_ROWS), _build(tmp_path / "pr", PR_ROWS)
    table = Table("model.p.kpis", "marts", "kpis", ("event_date", "platform"), "event_date")

    (diff,) = diff_builds(base, pr, [table])

    assert [
        (p.date, p.base_rows, p.pr_rows, p.added, p.removed, p.changed, p.columns)
        for p in diff.parts
    ] == [
        ("2026-11-01", 2, 2, 0, 0, 2, {"users": 1, "ctr": 2}),
        ("2026-11-02", 2, 2, 1, 1, 0, {"users": 0, "ctr": 0}),
    ]
    assert [e["platform"] for e in diff.examples] == ["ios", "web"]
    assert diff.examples[1] == {
        "event_date": "2026-11-01",
        "platform": "web",
        "base__users": 20,
        "pr__users": 21,
        "base__ctr": "0.250000",
        "pr__ctr": "0.300000",
    }
    assert diff.differs


def test_without_a_key_rows_are_compared_whole_per_date(tmp_path: Path) -> None:
    base, pr = _build(tmp_path / "base", BASE_ROWS), _build(tmp_path / "pr", PR_ROWS)
    table = Table("model.p.kpis", "marts", "kpis", (), "event_date")

    (diff,) = diff_builds(base, pr, [table])

    assert [
        (p.date, p.base_rows, p.pr_rows, p.added, p.removed, p.changed) for p in diff.parts
    ] == [
        ("2026-11-01", 2, 2, 2, 2, None),
        ("2026-11-02", 2, 2, 1, 1, None),
    ]
    assert diff.note.startswith("no key")
