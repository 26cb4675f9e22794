"""Profile one warm daily run with cProfile: where the seconds outside SQL go.

`python -m benchmarks.profile_daily [N]` prints the N functions with the most cumulative time
of the second daily run of the main benchmark day (the first is the warm-up) and writes the
full profile to target/bench/daily.prof (open it with `python -m pstats`).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys

from benchmarks import harness


def main() -> None:
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    with harness.question("profile_daily"):
        _, dt = harness.main_place("profile_daily")
        harness.daily(dt)  # warm-up: Prefect's temporary server, imports
        profiler = cProfile.Profile()
        profiler.enable()
        harness.daily(dt)
        profiler.disable()
        out = harness.WORK / "daily.prof"
        profiler.dump_stats(str(out))
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
        print(text.getvalue())
        harness.log(f"full profile: {out}")


if __name__ == "__main__":
    main()
