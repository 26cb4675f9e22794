"""Profile one warm daily run (or retry) with cProfile: where the seconds outside SQL go.

`python -m benchmarks.profile_daily [N] [--retry]` prints the N functions with the most
cumulative time of the second daily run of the main benchmark day (the first is the warm-up)
and writes the full profile to target/bench/daily.prof (open it with `python -m pstats`).
With `--retry`, the profiled run is `retry-failed` of that day after a run that failed at
landing (its events/_SUCCESS hidden, then put back), as `bench_retry_vs_run.py` times it.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from benchmarks import harness


def _failed_then_retry(place: Any, dt: date) -> Callable[[], Any]:
    from flows.pipeline import prefect_flows as pipeline

    harness.fail_at_landing(place, dt)
    return lambda: pipeline.retry_failed(dt, dt)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    retry = "--retry" in sys.argv[1:]
    top = int(args[0]) if args else 60
    with harness.question("profile_daily"):
        place, dt = harness.main_place("profile_daily")
        harness.daily(dt)  # warm-up: Prefect's temporary server, imports
        run = _failed_then_retry(place, dt) if retry else lambda: harness.daily(dt)
        profiler = cProfile.Profile()
        profiler.enable()
        run()
        profiler.disable()
        out = harness.WORK / ("retry.prof" if retry else "daily.prof")
        profiler.dump_stats(str(out))
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
        print(text.getvalue())
        harness.log(f"full profile: {out}")


if __name__ == "__main__":
    main()
