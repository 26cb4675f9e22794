"""backfill_batched_vs_serial: a 30-day backfill as Sluice plans it ÷ 30 separate daily runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks import harness

NAME = "backfill_batched_vs_serial"
DAYS = 30
#: a 30-day round takes minutes: fewer timed rounds than the other questions (BENCH_REPS - 2)
REPS = max(1, harness.REPS - 2)


def batched_place() -> harness.Place:
    """Where the batched side builds the 30 days (bench_vs_full_refresh reuses it)."""
    return harness.Place(harness.WORK / "places" / f"{NAME}-batched", _lake())


def _lake() -> Path:
    return harness.lake(DAYS, harness.scaled(10_000))


def main() -> None:
    with harness.question(NAME):
        lake = _lake()
        first, last = harness.day(0), harness.day(DAYS - 1)

        def backfill() -> object:
            harness.fresh_place(batched_place().root.name, lake).activate()
            return harness.backfill(first, last)

        def one_by_one() -> list[object]:
            harness.fresh_place(f"{NAME}-serial", lake).activate()
            return [harness.daily(harness.day(i)) for i in range(DAYS)]

        def warm_up() -> object:  # imports and the first flow run, on a scratch warehouse
            harness.fresh_place(f"{NAME}-warmup", lake).activate()
            return harness.daily(first)

        warm_up()
        seconds, _ = harness.side_by_side(
            {"batched": backfill, "serial": one_by_one}, reps=REPS, warmup=0
        )
        harness.record(
            NAME,
            seconds["batched"],
            seconds["serial"],
            {
                "days": DAYS,
                "events_per_day": harness.scaled(10_000),
                "batched": "backfill of the 30 days into an empty warehouse (one batch per step)",
                "serial": "30 daily flow runs into an empty warehouse, oldest first",
                "warmup": "one daily run on a scratch warehouse (imports, first flow run)",
            },
        )


if __name__ == "__main__":
    main()
