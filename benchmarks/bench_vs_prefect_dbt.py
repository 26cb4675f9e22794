"""vs_prefect_dbt: a Sluice daily run ÷ the same dbt run through prefect-dbt's PrefectDbtRunner."""

from __future__ import annotations

import json
from datetime import date

from benchmarks import harness

NAME = "vs_prefect_dbt"


def prefect_dbt_day(dt: date) -> int:
    """Every model for lake day dt, one Prefect task per dbt node; no gates, no ledger."""
    from dbt_common.events.base_types import EventLevel
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

    settings = PrefectDbtSettings(
        log_level=EventLevel.WARN,  # its default, Prefect's level name, fails on "WARNING"
        project_dir=harness.PROJECT,
        profiles_dir=harness.PROJECT,
        target_path=harness.WORK / "prefect-dbt-target",
    )
    runner = PrefectDbtRunner(settings=settings, raise_on_failure=True)
    day = dt.isoformat()
    result = runner.invoke(["run", "--vars", json.dumps({"run_start": day, "run_end": day})])
    return len(result.result.results)


def main() -> None:
    with harness.question(NAME):
        # Prefect is imported once the benchmark's server runs: it reads PREFECT_API_URL then
        from prefect import flow

        baseline = flow(name="prefect-dbt-day")(prefect_dbt_day)
        _, dt = harness.main_place(NAME)
        # raw for dt is landed by the warm-up Sluice run, before the first prefect-dbt run
        seconds, returned = harness.side_by_side(
            {"sluice": lambda: harness.daily(dt), "prefect_dbt": lambda: baseline(dt)}
        )
        landing = []
        for report in returned["sluice"]:
            steps = {a.layer: a for a in harness.attempts_of(dt, report.run_id)}
            landing.append(steps["raw"].seconds or 0.0)
        without_landing = [
            round(s - la, 4) for s, la in zip(seconds["sluice"], landing, strict=True)
        ]
        harness.record(
            NAME,
            seconds["sluice"],
            seconds["prefect_dbt"],
            {
                "lake_day": dt.isoformat(),
                "events_per_day": harness.scaled(1_000_000),
                "prefect_dbt_nodes": returned["prefect_dbt"][-1],
                "sluice_landing_step_s": landing,
                "sluice_without_landing_s": without_landing,
                "ratio_without_landing": round(
                    harness.median(without_landing) / harness.median(seconds["prefect_dbt"]), 4
                ),
            },
        )


if __name__ == "__main__":
    main()
