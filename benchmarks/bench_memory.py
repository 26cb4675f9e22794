"""memory: peak RSS of a daily run (`sluice run` in its own process) at growing event counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks import harness

NAME = "memory"
SIZES = (100_000, 1_000_000, 5_000_000)  # events a day, times BENCH_SCALE


def _peak_rss(place: harness.Place) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `sluice run` for the place's only lake day."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "flows", "run", "--date", harness.day(0).isoformat()],
        env={**place.env(), "PREFECT_LOGGING_LEVEL": "WARNING"},
        cwd=os.environ["SLUICE_PROJECT_DIR"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"sluice run failed ({process.returncode}) in {place.root}")
    return round(time.perf_counter() - began, 3), round(usage.ru_maxrss / 1024, 1)


def main() -> None:
    with harness.question(NAME):
        runs = {}
        for size in SIZES:
            events = harness.scaled(size)
            place = harness.fresh_place(f"{NAME}-{events}", harness.lake(1, events))
            seconds, rss = _peak_rss(place)
            runs[events] = {"seconds": seconds, "peak_rss_mb": rss}
            harness.log(f"{NAME}: {events} events: {rss} MB peak RSS in {seconds} s")
        small, large = (harness.scaled(s) for s in SIZES[:2])
        harness.record(
            NAME,
            [runs[large]["seconds"]],
            [runs[small]["seconds"]],
            {
                "meaning": "ratio = peak RSS at 10x the events / peak RSS at 1x "
                "(numerator_s and denominator_s are those runs' seconds); one fresh process "
                "per size, first build of a one-day warehouse",
                "runs_by_events_per_day": runs,
                "peak_rss_mb_at_1M_times_scale": runs[large]["peak_rss_mb"],
            },
            ratio=runs[large]["peak_rss_mb"] / runs[small]["peak_rss_mb"],
        )


if __name__ == "__main__":
    main()
