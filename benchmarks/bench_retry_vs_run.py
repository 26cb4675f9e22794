"""retry_vs_run: `sluice retry` of a lake day that failed ÷ running that day once."""

from __future__ import annotations

from benchmarks import harness

NAME = "retry_vs_run"


def main() -> None:
    from flows.pipeline import prefect_flows as pipeline

    with harness.question(NAME):
        place, dt = harness.main_place(NAME)

        def fail() -> None:
            """An incomplete lake day (no _SUCCESS): the day fails at landing, then is fixed."""
            harness.fail_at_landing(place, dt)

        seconds, reports = harness.side_by_side(
            {"retry": lambda: pipeline.retry_failed(dt, dt), "run": lambda: harness.daily(dt)},
            setups={"retry": fail},
        )
        retried = [
            [f"{a.layer}:{a.status}" for r in rep.runs for a in r.attempts]
            for rep in reports["retry"]
        ]
        harness.record(
            NAME,
            seconds["retry"],
            seconds["run"],
            {
                "lake_day": dt.isoformat(),
                "events_per_day": harness.scaled(1_000_000),
                "failure": "lake day without events/_SUCCESS: landing refuses it; "
                "restored, then retried",
                "retried_steps": retried,
            },
        )


if __name__ == "__main__":
    main()
