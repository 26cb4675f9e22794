"""bq_max_concurrency: a 6-day backfill on the BigQuery emulator with `--max-concurrency 3` ÷ the
same backfill with 1, each into an empty BigQuery project and state store of its own.

Landing is what runs side by side (up to N lake days at once); the dbt steps take turns. Not part
of `make bench`: it needs the emulator's venv (`make bq-venvs`) and a few minutes. Run it with
`python -m benchmarks.bq_max_concurrency`; it writes its figure into results.json like the rest.
"""

from __future__ import annotations

import shutil
import time

from benchmarks import harness

NAME = "bq_max_concurrency"
DAYS = 6
EVENTS_PER_DAY = 2_000  # the emulator is no warehouse: a volume it loads in seconds


def main() -> None:
    from flows.pipeline import prefect_flows
    from flows.sample.lake import generate_lake
    from flows.sample.spec import LakeSpec
    from flows.settings import PROJECT_DIR
    from tools.bq_check.emulator import running_emulator
    from tools.bq_check.emulator_run import FIRST_DAY, emulator_settings
    from tools.bq_check.flow_run import environment

    work = harness.WORK / NAME
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    crucible = PROJECT_DIR / ".venv-bq-emulator" / "bin" / "crucible"
    with harness.question(NAME), running_emulator(crucible, work / "crucible.log") as endpoint:
        settings = emulator_settings(PROJECT_DIR, endpoint, work)
        days = generate_lake(
            settings.lake_folder,
            LakeSpec(start=FIRST_DAY, days=DAYS, events_per_day=EVENTS_PER_DAY),
        )
        seconds: dict[int, float] = {}
        for writers in (3, 1):  # the side-by-side run first: any warm-up counts against it
            project = f"sluice-writers-{writers}"
            env = {
                "SLUICE_BQ_PROJECT": project,
                "SLUICE_LAKE": str(settings.lake_folder),
                "SLUICE_STATE": str(work / f"{project}.state.sqlite"),
                "SLUICE_DUCKDB": str(work / "unused.duckdb"),
                "SLUICE_REPORTS": str(work / "reports"),
            }
            with environment(env):
                began = time.perf_counter()
                prefect_flows.backfill(days[0], days[-1], max_concurrency=writers)
                seconds[writers] = round(time.perf_counter() - began, 2)
        harness.record(
            NAME,
            [seconds[3]],
            [seconds[1]],
            {"lake_days": DAYS, "events_per_day": EVENTS_PER_DAY, "target": "bq_emulator"},
        )


if __name__ == "__main__":
    main()
