"""pipeline_vs_plain_sql: a Sluice daily run ÷ the plain DuckDB SQL script, same lake day."""

from __future__ import annotations

from benchmarks import harness, plain_sql

NAME = "pipeline_vs_plain_sql"


def main() -> None:
    with harness.question(NAME):
        place, dt = harness.main_place(NAME)
        plain_db = place.root / "plain_sql.duckdb"
        for offset in range(7):  # the plain side gets the same 7 days of history
            plain_sql.run_day(plain_db, place.lake, harness.day(offset))
        seconds, _ = harness.side_by_side(
            {
                "sluice": lambda: harness.daily(dt),
                "plain": lambda: plain_sql.run_day(plain_db, place.lake, dt),
            }
        )
        check = plain_sql.differences(place.warehouse, plain_db, dt)
        equal = all(m["only_in_sluice"] == m["only_in_plain"] == 0 for m in check.values())
        if not equal:
            harness.log(f"{NAME}: marts differ: {check}")
        harness.record(
            NAME,
            seconds["sluice"],
            seconds["plain"],
            {
                "lake_day": dt.isoformat(),
                "events_per_day": harness.scaled(1_000_000),
                "marts_equal": equal,
                "marts_compared": check,
                "plain_scope": "events path: landing checks, fct_events, daily_kpis, "
                "recommendation_performance, ab_pattern_results (not the dump-derived dims, "
                "fct_applications, application_funnel, bandit_weights)",
            },
        )


if __name__ == "__main__":
    main()
