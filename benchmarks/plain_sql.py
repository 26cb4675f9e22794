"""Runs the plain-SQL scripts for one lake day and compares their marts with Sluice's.

plain_day.sql (the events path), plain_dumps.sql (the dumps, dimensions and fct_applications)
and plain_wide.sql (application_funnel, bandit_weights) do a daily run's work in one DuckDB
transaction, with the same quarantine, late-data and dedup rules and no orchestration.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from flows.project.manifest import Project

HERE = Path(__file__).parent
SCRIPTS = tuple(HERE / name for name in ("plain_day.sql", "plain_dumps.sql", "plain_wide.sql"))
#: script parameter -> the lake folder (under the lake root) and file pattern of its files
FILES = {
    "files": ("events", "*.jsonl*"),
    "users_files": ("dumps/users", "*.csv"),
    "companies_files": ("dumps/companies", "*.csv"),
    "jobs_files": ("dumps/jobs", "*.csv"),
    "applications_files": ("dumps/applications", "*.parquet"),
    "ab_patterns_files": ("dumps/ab_patterns", "*.parquet"),
}
#: the marts the scripts build, compared row for row with Sluice's
MARTS = (
    "ab_pattern_results",
    "application_funnel",
    "bandit_weights",
    "daily_kpis",
    "recommendation_performance",
)


def statements() -> list[str]:
    """Every statement of the scripts, in order (comment lines dropped)."""
    found = []
    for script in SCRIPTS:
        text = "\n".join(
            line for line in script.read_text().splitlines() if not line.lstrip().startswith("--")
        )
        found += [s.strip() for s in text.split(";") if s.strip()]
    return found


def lake_files(lake: Path, day: date) -> dict[str, list[str]]:
    """Each script parameter's files of lake day `day` (a table without files: an error)."""
    out = {}
    for name, (folder, pattern) in FILES.items():
        files = sorted(str(p) for p in (lake / folder / f"dt={day.isoformat()}").glob(pattern))
        if not files:
            raise FileNotFoundError(f"lake day {day}: no {pattern} files under {folder}")
        out[name] = files
    return out


def run_day(database: Path, lake: Path, day: date) -> None:
    """The plain scripts for lake day `day`, in their own DuckDB file, all or nothing."""
    values: dict[str, Any] = {"day": day, **lake_files(lake, day)}
    con = duckdb.connect(str(database))
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("begin transaction")
        for sql in statements():
            used = {k: v for k, v in values.items() if re.search(rf"\${k}\b", sql)}
            con.execute(sql, used)
        con.execute("commit")
    finally:
        con.close()


def windows(project: Project, first: date, last: date) -> dict[str, tuple[str, date, date]]:
    """Each compared mart's date column and the dates a run of lake days first..last rewrites
    (its meta.window, from the manifest)."""
    out = {}
    for table in project.tables("marts"):
        if table.name in MARTS:
            assert table.partition_column, table.name
            out[table.name] = (table.partition_column, *table.window.bounds(first, last))
    missing = set(MARTS) - set(out)
    if missing:
        raise LookupError(f"marts not in the dbt project: {sorted(missing)}")
    return dict(sorted(out.items()))


def differences(
    warehouse: Path, database: Path, project: Project, first: date, last: date | None = None
) -> dict[str, dict[str, Any]]:
    """Rows of each mart, over the dates a run of lake days first..last rewrites, found in one
    warehouse and not the other."""
    con = duckdb.connect(str(warehouse))
    out: dict[str, dict[str, Any]] = {}
    try:
        con.execute("attach $path as plain_db (read_only)", {"path": str(database)})
        for mart, (column, a, b) in windows(project, first, last or first).items():
            columns = ", ".join(
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_catalog ="
                    " 'plain_db' and table_name = $t order by ordinal_position",
                    {"t": mart},
                ).fetchall()
            )
            where = f"where {column} between $a and $b"
            sluice = f"select {columns} from marts.{mart} {where}"
            plain = f"select {columns} from plain_db.plain.{mart} {where}"
            window = {"a": a, "b": b}
            only_sluice = con.execute(f"select count(*) from ({sluice} except all {plain})", window)
            n_sluice = int(only_sluice.fetchone()[0])  # type: ignore[index]
            only_plain = con.execute(f"select count(*) from ({plain} except all {sluice})", window)
            n_plain = int(only_plain.fetchone()[0])  # type: ignore[index]
            rows = con.execute(f"select count(*) from ({sluice})", window).fetchone()
            out[mart] = {
                "dates": [a.isoformat(), b.isoformat()],
                "rows": int(rows[0]) if rows else 0,
                "only_in_sluice": n_sluice,
                "only_in_plain": n_plain,
            }
    finally:
        con.execute("detach plain_db")
        con.close()
    return out
