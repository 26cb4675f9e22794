"""Runs benchmarks/plain_day.sql for one lake day and compares its marts with Sluice's."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

SCRIPT = Path(__file__).with_name("plain_day.sql")
#: mart -> its key columns; the plain script builds these (the events path).
MARTS = {
    "daily_kpis": ("event_date", "platform"),
    "recommendation_performance": ("event_date", "algorithm", "slot"),
    "ab_pattern_results": ("event_date", "ab_test_id", "pattern_id"),
}


def statements() -> list[str]:
    text = "\n".join(
        line for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


def run_day(database: Path, lake: Path, day: date) -> None:
    """The plain script for lake day `day`, in its own DuckDB file."""
    files = sorted(str(p) for p in (lake / "events" / f"dt={day.isoformat()}").glob("*.jsonl*"))
    values: dict[str, Any] = {"day": day, "files": files}
    con = duckdb.connect(str(database))
    try:
        con.execute("set TimeZone = 'UTC'")
        for sql in statements():
            used = {k: v for k, v in values.items() if re.search(rf"\${k}\b", sql)}
            con.execute(sql, used)
    finally:
        con.close()


def differences(warehouse: Path, database: Path, day: date) -> dict[str, dict[str, int]]:
    """Rows of each mart (event dates [D-3, D]) found in one warehouse and not the other."""
    con = duckdb.connect(str(warehouse))
    first = day - timedelta(days=3)
    out: dict[str, dict[str, int]] = {}
    try:
        con.execute(f"attach '{database}' as plain_db (read_only)")
        for mart in MARTS:
            columns = ", ".join(
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_catalog ="
                    " 'plain_db' and table_name = $t order by ordinal_position",
                    {"t": mart},
                ).fetchall()
            )
            sluice = f"select {columns} from marts.{mart} where event_date between $a and $b"
            plain = (
                f"select {columns} from plain_db.plain.{mart} where event_date between $a and $b"
            )
            window = {"a": first, "b": day}
            only_sluice = con.execute(f"select count(*) from ({sluice} except all {plain})", window)
            n_sluice = int(only_sluice.fetchone()[0])  # type: ignore[index]
            only_plain = con.execute(f"select count(*) from ({plain} except all {sluice})", window)
            n_plain = int(only_plain.fetchone()[0])  # type: ignore[index]
            rows = con.execute(f"select count(*) from ({sluice})", window).fetchone()
            out[mart] = {
                "rows": int(rows[0]) if rows else 0,
                "only_in_sluice": n_sluice,
                "only_in_plain": n_plain,
            }
    finally:
        con.execute("detach plain_db")
        con.close()
    return out
