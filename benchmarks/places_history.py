"""Warehouses with a long history, built fast: land each day, then one full-refresh dbt build."""

from __future__ import annotations

import time
from datetime import date

from benchmarks import harness


def build_range(place: harness.Place, first: date, last: date) -> None:
    """Land lake days first..last, build every dbt layer with --full-refresh, publish it.

    The same mechanism as a backfill (landing, the dbt layers, write-audit-publish) without
    gating each day, so a year of history takes minutes; the timed runs are ordinary daily runs.
    """
    from flows.dates import date_range
    from flows.pipeline.workspace import Workspace
    from flows.project.manifest import RAW_LAYER
    from flows.warehouse.duckdb_landing import connect, land_partition

    began = time.perf_counter()
    ws = Workspace.open(place.activate())
    con = connect(place.warehouse)
    try:
        for dt in date_range(first, last, max_days=10_000):
            land_partition(
                con,
                ws.lake,
                ws.project.lake_tables,
                dt,
                lateness_days=ws.project.lateness_days,
                load_id="bench-history",
            )
    finally:
        con.close()
    landed = time.perf_counter()
    for layer in ws.project.steps:
        if layer == RAW_LAYER:
            continue  # landed straight into the published raw tables above
        ws.dbt.run_layer(layer, first, last, full_refresh=True)  # into the audit schemas
        ws.publish(layer, first, last)
    harness.log(
        f"history {first}..{last} in {place.root.name}: landed in {landed - began:.1f} s, "
        f"built in {time.perf_counter() - landed:.1f} s"
    )
