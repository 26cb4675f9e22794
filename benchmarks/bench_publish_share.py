"""publish_share: publishing ÷ building, a daily run with write-audit-publish on every layer.

From the ledger's step timings (publish_seconds, build_seconds, summed over the steps of the lake
day), and the storage the audit copies take: rows in the *_audit schemas ÷ rows published.
"""

from __future__ import annotations

import duckdb

from benchmarks import harness

NAME = "publish_share"


def _rows_by_schema(warehouse: str) -> dict[str, int]:
    con = duckdb.connect(warehouse)  # the configuration this process already holds it with
    try:
        rows = con.execute(
            "select schema_name, sum(estimated_size) from duckdb_tables() group by 1"
        ).fetchall()
        return {str(schema): int(n or 0) for schema, n in rows}
    finally:
        con.close()


def _pending_raw_rows(warehouse: str) -> int:
    con = duckdb.connect(warehouse)
    try:
        views = con.execute(
            "select view_name from duckdb_views() where schema_name = 'raw_audit' order by 1"
        ).fetchall()
        pending = 0
        for (name,) in views:
            row = con.execute(f'select count(*) from raw_audit."{name}"').fetchone()
            pending += int(row[0]) if row else 0
        return pending
    finally:
        con.close()


def main() -> None:
    with harness.question(NAME):
        place, dt = harness.main_place(NAME)
        _, reports = harness.side_by_side({"daily": lambda: harness.daily(dt)})
        publish, build, per_step = [], [], []
        for report in reports["daily"]:
            attempts = harness.attempts_of(dt, report.run_id)
            publish.append(round(sum(a.details.get("publish_seconds", 0.0) for a in attempts), 4))
            build.append(round(sum(a.details.get("build_seconds", 0.0) for a in attempts), 4))
            per_step.append(
                {
                    a.layer: {
                        "build_s": a.details.get("build_seconds"),
                        "publish_s": a.details.get("publish_seconds"),
                    }
                    for a in attempts
                }
            )
        rows = _rows_by_schema(str(place.warehouse))
        # raw is one store of loads (flows/warehouse/duckdb_raw.py): its pending rows are raw's
        # audit copy, the rest raw's published rows
        rows["raw_audit"] = _pending_raw_rows(str(place.warehouse))
        rows["raw"] = rows.pop("raw_store", 0) - rows["raw_audit"]
        audit = sum(n for schema, n in rows.items() if schema.endswith("_audit"))
        published = sum(n for schema, n in rows.items() if f"{schema}_audit" in rows)
        harness.record(
            NAME,
            publish,
            build,
            {
                "lake_day": dt.isoformat(),
                "events_per_day": harness.scaled(1_000_000),
                "source": "ledger details publish_seconds / build_seconds, summed over steps",
                "steps": per_step,
                "storage_rows_audit_over_published": round(audit / published, 3)
                if published
                else None,
                "rows_by_schema": rows,
            },
        )


if __name__ == "__main__":
    main()
