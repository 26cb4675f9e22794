"""flat_with_history: the daily run of day N+1 with 365 days of history ÷ with 7 days."""

from __future__ import annotations

from datetime import date, timedelta

from benchmarks import harness
from benchmarks.places_history import build_range

NAME = "flat_with_history"
FIRST = date(2025, 6, 1)  # a year that ended before today: backfills refuse future days


def main() -> None:
    with harness.question(NAME):
        events = harness.scaled(2_000)
        lake = harness.lake(366, events, start=FIRST)
        dt = FIRST + timedelta(days=365)
        long, short = (
            harness.fresh_place(f"{NAME}-365", lake),
            harness.fresh_place(f"{NAME}-7", lake),
        )
        build_range(long, FIRST, dt - timedelta(days=1))
        build_range(short, dt - timedelta(days=7), dt - timedelta(days=1))

        def run(place: harness.Place) -> object:
            place.activate()
            return harness.daily(dt)

        seconds, returned = harness.side_by_side(
            {"history_365": lambda: run(long), "history_7": lambda: run(short)}
        )
        steps = {}
        for side, place in (("history_365", long), ("history_7", short)):
            place.activate()
            steps[side] = [
                {a.layer: round(a.seconds or 0.0, 3) for a in harness.attempts_of(dt, r.run_id)}
                for r in returned[side]
            ]
        harness.record(
            NAME,
            seconds["history_365"],
            seconds["history_7"],
            {
                "lake_day": dt.isoformat(),
                "events_per_day": events,
                "history": "built by landing each day and one full-refresh dbt build",
                "step_seconds": steps,
            },
        )


if __name__ == "__main__":
    main()
