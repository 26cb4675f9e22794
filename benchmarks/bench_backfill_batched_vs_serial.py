"""backfill_batched_vs_serial: a 30-day backfill as Sluice plans it ÷ 30 separate daily runs."""

from __future__ import annotations

import shutil

from benchmarks import harness

NAME = "backfill_batched_vs_serial"
DAYS = 30
#: a 30-day round is long: fewer timed rounds than the other questions (BENCH_REPS raises it)
REPS = max(1, harness.REPS - 2)


def main() -> None:
    with harness.question(NAME):
        events = harness.scaled(10_000)
        lake = harness.lake(DAYS, events)
        first, last = harness.day(0), harness.day(DAYS - 1)
        batched = harness.fresh_place(f"{NAME}-batched", lake)
        serial = harness.fresh_place(f"{NAME}-serial", lake)
        batched.activate()
        harness.backfill(first, last)  # the warm-up: both sides then re-run a built range
        shutil.copy2(batched.warehouse, serial.warehouse)
        shutil.copy2(batched.state, serial.state)

        def backfill() -> object:
            batched.activate()
            return harness.backfill(first, last, force=True)

        def one_by_one() -> list[object]:
            serial.activate()
            return [harness.daily(harness.day(i)) for i in range(DAYS)]

        seconds, _ = harness.side_by_side(
            {"batched": backfill, "serial": one_by_one}, reps=REPS, warmup=0
        )
        harness.record(
            NAME,
            seconds["batched"],
            seconds["serial"],
            {
                "days": DAYS,
                "events_per_day": events,
                "batched": "backfill --force of the 30 days (one batch: each dbt layer once)",
                "serial": "30 daily flow runs, one per day, oldest first",
                "warmup": "one first backfill of the range (then copied to the serial side)",
            },
        )


if __name__ == "__main__":
    main()
