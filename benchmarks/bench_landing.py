"""landing_lines_per_s: landing a lake day's events ÷ DuckDB read_json of the same files alone."""

from __future__ import annotations

from benchmarks import harness

NAME = "landing_lines_per_s"


def main() -> None:
    from flows.pipeline.workspace import Workspace
    from flows.warehouse.duckdb_landing import connect, land_partition

    with harness.question(NAME):
        dt = harness.day(7)
        place = harness.fresh_place(NAME, harness.lake(8, harness.scaled(1_000_000)))
        ws = Workspace.open(place.activate())
        events = tuple(t for t in ws.project.lake_tables if t.name == "events")
        files = [str(f.path) for f in ws.lake.files(events[0], dt)]
        con = connect(place.warehouse)
        try:
            seconds, returned = harness.side_by_side(
                {
                    "landing": lambda: land_partition(
                        con,
                        ws.lake,
                        events,
                        dt,
                        lateness_days=ws.project.lateness_days,
                        load_id="bench",
                    ),
                    "read_json": lambda: con.execute(
                        "create or replace temp table _bench_read as select * from"
                        " read_json($files, format = 'newline_delimited', ignore_errors = true)",
                        {"files": files},
                    ),
                }
            )
        finally:
            con.close()
        lines = returned["landing"][-1].lines
        harness.record(
            NAME,
            seconds["landing"],
            seconds["read_json"],
            {
                "lake_day": dt.isoformat(),
                "lines": lines,
                "lines_per_s": round(lines / harness.median(seconds["landing"])),
                "read_json_lines_per_s": round(lines / harness.median(seconds["read_json"])),
                "files": len(files),
            },
        )


if __name__ == "__main__":
    main()
