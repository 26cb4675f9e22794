"""status_vs_help, incidents_vs_help: `sluice status` and `sluice incidents` ÷ `sluice --help`,
each in a fresh process, on a warehouse with 7 lake days built and an 8th that failed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

from benchmarks import harness

NAMES = ("status_vs_help", "incidents_vs_help")
DAYS = 8
# A row of the status table starts at its left edge; a long reason folded onto the next lines
# starts in the last column, and may start with a date too (a lake path cut at `dt=`).
ROW = re.compile(r"^ {0,2}\d{4}-\d\d-\d\d ", re.MULTILINE)


def _command(place: harness.Place, *args: str) -> Callable[[], str]:
    """Run `sluice <args>` in a fresh process on the place; its output."""

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flows", *args],
            env={**place.env(), "COLUMNS": "80"},
            cwd=harness.ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    return run


def main() -> None:
    with harness.question(", ".join(NAMES)):
        events = harness.scaled(10_000)
        place = harness.fresh_place(NAMES[0], harness.lake(DAYS, events))
        place.activate()
        harness.backfill(harness.day(0), harness.day(DAYS - 2))
        harness.fail_at_landing(place, harness.day(DAYS - 1))  # one failed day, one incident
        sides = {
            "help": _command(place, "--help"),
            "status": _command(place, "status"),
            "incidents": _command(place, "incidents"),
        }
        seconds, outputs = harness.side_by_side(sides, reps=max(5, harness.REPS))
        status_rows = len(ROW.findall(outputs["status"][-1]))
        assert status_rows == 3 * DAYS, outputs["status"][-1]
        assert "step_failed" in outputs["incidents"][-1], outputs["incidents"][-1]
        details = {
            "lake_days": DAYS,
            "events_per_day": events,
            "status_rows": status_rows,
            "help_median_s": harness.median(seconds["help"]),
            "help_goal": "≤ 1 s on a quiet machine",
            "how": "each command a fresh `python -m flows` process (as the console script), "
            "interleaved; the ratio is median ÷ median",
        }
        harness.record("status_vs_help", seconds["status"], seconds["help"], details)
        harness.record("incidents_vs_help", seconds["incidents"], seconds["help"], details)


if __name__ == "__main__":
    main()
