"""pipeline_vs_plain_sql: a Sluice daily run ÷ the plain DuckDB SQL script, same lake day."""

from __future__ import annotations

from typing import Any

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
        check = plain_sql.differences(place.warehouse, plain_db, _project(), dt)
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
                "plain_scope": "all of a daily run's work: landing of every lake table with its "
                "field checks (events and the five dumps), fct_events (dedup over lake days "
                "D-3..D+3), the dumps' change rows, the four SCD2 dims, fct_applications and "
                "the five marts (plain_day.sql, plain_dumps.sql, plain_wide.sql)",
            },
        )


def _project() -> Any:
    """The dbt project of this run (the marts' windows), parsed as the pipeline parses it."""
    from flows.project.dbt_runner import DbtProject
    from flows.project.manifest import build_project
    from flows.settings import get_settings

    settings = get_settings()
    return build_project(DbtProject(settings).manifest, settings.project_dir)


if __name__ == "__main__":
    main()
