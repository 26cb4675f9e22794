"""landing_lines_per_s: landing a lake day's events ÷ DuckDB read_json of the same files alone;
landing_peak_rss: peak RSS of a fresh process landing a 1M-line lake day ÷ a 100k-line one."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks import harness

NAME = "landing_lines_per_s"
RSS_NAME = "landing_peak_rss"
#: events a day of the lakes whose day 8 (109k and 1.09M lines) is landed for the peak RSS: the
#: goal is at 1M lines, so at BENCH_SCALE 0.1 and above these sizes, smaller ones only below
#: (the smoke test); the lakes are cached under target/bench/lakes and are the ones the speed
#: figure lands at BENCH_SCALE 0.1 and 1
RSS_LINES = tuple(min(n, harness.scaled(10 * n)) for n in (100_000, 1_000_000))
#: peak RSS goal of landing a 1M-line day
RSS_GOAL_MB = 1000


def main() -> None:
    if sys.argv[1:2] == ["--land"]:
        _land_only(Path(sys.argv[2]), date.fromisoformat(sys.argv[3]), Path(sys.argv[4]))
        return
    with harness.question(NAME):
        _peak_rss()  # first: a child's peak RSS counts from its parent's RSS when it forked
        _speed()


def _speed() -> None:
    from flows.pipeline.workspace import Workspace
    from flows.warehouse.duckdb_landing import connect, land_partition

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
    lines = returned["landing"][-1].tables[0].lines
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


def _peak_rss() -> None:
    """Land day 8 of each RSS_LINES lake in a fresh process; record the peak RSS ratio."""
    runs = {}
    for lines in RSS_LINES:
        place = harness.fresh_place(f"{RSS_NAME}-{lines}", harness.lake(8, lines))
        runs[lines] = _measure(place)
        harness.log(f"{RSS_NAME}: {lines} lines: {runs[lines]}")
    small, large = (runs[n] for n in RSS_LINES)
    lines = {n: run.pop("lines") for n, run in runs.items()}
    harness.record(
        RSS_NAME,
        [large["seconds"]],
        [small["seconds"]],
        {
            "meaning": "ratio = peak RSS of a fresh process landing a 1M-line day ÷ one landing "
            "a 100k-line day (numerator_s and denominator_s are those processes' seconds); "
            "every table of the day, one run per size, these sizes at any BENCH_SCALE >= 0.1; "
            "peak RSS is the "
            "process's VmHWM, rss_before_landing_mb the same once the project is open",
            "peak_rss_mb_at_1M_lines": large["peak_rss_mb"],
            "event_lines": lines,
            "goal_peak_rss_mb_at_1M_lines": RSS_GOAL_MB,
            "runs_by_lines": runs,
        },
        ratio=large["peak_rss_mb"] / small["peak_rss_mb"],
    )


def _measure(place: harness.Place) -> dict[str, float | int]:
    """Seconds, peak RSS and peak RSS before landing (MB) of a process landing the place's day."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_landing",
            "--land",
            str(place.lake),
            harness.day(7).isoformat(),
            str(place.warehouse),
        ],
        env=place.env(),
        cwd=os.environ["SLUICE_PROJECT_DIR"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    before, peak, lines = process.stdout.read().split()
    _, status, _ = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"landing failed in {place.root}")
    return {
        "seconds": round(time.perf_counter() - began, 3),
        "peak_rss_mb": float(peak),
        "rss_before_landing_mb": float(before),
        "lines": int(lines),
    }


def _peak_rss_mb() -> float:
    """This process's peak RSS since it started (VmHWM; ru_maxrss would count from the RSS of
    the parent it forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _land_only(lake: Path, dt: date, warehouse: Path) -> None:
    """The measured process: open the project, print its peak RSS so far (MB), land the day,
    print its peak RSS and how many event lines it landed."""
    from flows.pipeline.workspace import Workspace
    from flows.warehouse.duckdb_landing import connect, land_partition

    ws = Workspace.open(harness.Place(warehouse.parent, lake).activate())
    print(_peak_rss_mb(), flush=True)
    con = connect(warehouse)
    try:
        landed = land_partition(
            con,
            ws.lake,
            ws.project.lake_tables,
            dt,
            lateness_days=ws.project.lateness_days,
            load_id="bench",
        )
    finally:
        con.close()
    print(_peak_rss_mb(), next(t.lines for t in landed.tables if t.table == "events"), flush=True)


if __name__ == "__main__":
    main()
