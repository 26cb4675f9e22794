"""vs_full_refresh: the daily incremental run ÷ a full refresh of 30 days of the dbt layers."""

from __future__ import annotations

from benchmarks import harness
from benchmarks.bench_backfill_batched_vs_serial import DAYS, batched_place

NAME = "vs_full_refresh"


def main() -> None:
    from flows.pipeline.workspace import Workspace
    from flows.project.manifest import RAW_LAYER

    with harness.question(NAME):
        events = harness.scaled(10_000)
        first, last = harness.day(0), harness.day(DAYS - 1)
        place = batched_place()  # the 30 days bench_backfill_batched_vs_serial built
        if not place.warehouse.exists():
            place = harness.fresh_place(NAME, place.lake)
            place.activate()
            harness.backfill(first, last)
        ws = Workspace.open(place.activate())

        def full_refresh() -> list[int]:
            """`dbt run --full-refresh` of every dbt layer over the 30 days (no gates)."""
            return [
                len(ws.dbt.run_layer(layer, first, last, full_refresh=True).nodes)
                for layer in ws.project.steps
                if layer != RAW_LAYER
            ]

        seconds, returned = harness.side_by_side(
            {"daily": lambda: harness.daily(last), "full_refresh": full_refresh}
        )
        harness.record(
            NAME,
            seconds["daily"],
            seconds["full_refresh"],
            {
                "lake_day": last.isoformat(),
                "days": DAYS,
                "events_per_day": events,
                "daily": "the daily flow for the 30th day (landing, layers, gates, ledger)",
                "full_refresh": "each dbt layer with --full-refresh over the 30 days",
                "full_refresh_nodes_per_layer": returned["full_refresh"][-1],
            },
        )


if __name__ == "__main__":
    main()
