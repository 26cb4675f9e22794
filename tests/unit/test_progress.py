"""A run's progress: the time left from a real SQLite ledger's history, and its one-line form."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.pipeline.progress import (
    Ended,
    Estimator,
    RunProgress,
    StepDone,
    duration,
    ended,
    line,
)
from flows.pipeline.progress_display import showing
from flows.state.ledger import Ledger, Outcome, Status
from flows.state.store import StateStore

NOV_1, NOV_2, NOV_3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
PLANNED = {"raw": 3, "dwh": 3, "marts": 3}


class Clock:
    """A clock that only moves when the test advances it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 4, 6, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> Ledger:
    return Ledger(StateStore(tmp_path / "state.sqlite"), clock=clock)


def attempts(
    ledger: Ledger,
    clock: Clock,
    layer: str,
    days: list[date],
    seconds: float,
    status: Status = Status.SUCCEEDED,
) -> None:
    """One step for these days as the pipeline records it (a batch when several)."""
    started = [
        ledger.start(dt, layer, "run-1", code_version="c", input_fingerprint="f") for dt in days
    ]
    clock.now += timedelta(seconds=seconds)
    details: dict[str, Any] = {"batch": f"{days[0]}..{days[-1]}"} if len(days) > 1 else {}
    for attempt in started:
        ledger.finish(attempt, Outcome(status, details=details))


def step(layer: str, days: list[date], seconds: float, how: Ended = Ended.OK) -> StepDone:
    return StepDone(layer, tuple(days), how, seconds)


def test_recent_runs_are_newest_first_a_batch_is_one_run_and_failures_are_left_out(
    ledger: Ledger, clock: Clock
) -> None:
    attempts(ledger, clock, "raw", [NOV_1], 10)
    attempts(ledger, clock, "raw", [NOV_2], 500, Status.FAILED)
    attempts(ledger, clock, "raw", [NOV_2], 20)
    attempts(ledger, clock, "raw", [NOV_3], 60)
    attempts(ledger, clock, "dwh", [NOV_1, NOV_2, NOV_3], 30)
    attempts(ledger, clock, "dwh", [NOV_3], 12)
    attempts(ledger, clock, "marts", [NOV_1], 7, Status.BLOCKED)

    assert ledger.recent_runs("raw") == [(1, 60.0), (1, 20.0), (1, 10.0)]
    assert ledger.recent_runs("raw", limit=2) == [(1, 60.0), (1, 20.0)]
    assert ledger.recent_runs("dwh") == [(1, 12.0), (3, 30.0)]
    assert ledger.recent_runs("marts") == []


def test_time_left_is_each_steps_median_per_day_times_its_days_left(
    ledger: Ledger, clock: Clock
) -> None:
    for dt, seconds in ((NOV_1, 10), (NOV_2, 20), (NOV_3, 60)):
        attempts(ledger, clock, "raw", [dt], seconds)
    attempts(ledger, clock, "raw", [NOV_1], 500, Status.FAILED)
    attempts(ledger, clock, "dwh", [NOV_1, NOV_2, NOV_3], 30)
    attempts(ledger, clock, "marts", [NOV_2], 4)
    progress = RunProgress(PLANNED, Estimator.from_ledger(ledger, list(PLANNED)))

    assert (progress.done, progress.total, progress.left()) == (0, 9, 3 * 20 + 3 * 10 + 3 * 4)
    progress.finish(step("raw", [NOV_1], 15))
    assert (progress.done, progress.left()) == (1, 2 * 20 + 3 * 10 + 3 * 4)
    progress.finish(step("raw", [NOV_2], 15))
    progress.finish(step("raw", [NOV_3], 15))
    progress.finish(step("dwh", [NOV_1, NOV_2, NOV_3], 9))  # a batch of 3 days: 3 units
    assert (progress.done, progress.left()) == (6, 3 * 4)
    progress.finish(step("marts", [NOV_1, NOV_2, NOV_3], 3))
    assert (progress.done, progress.left()) == (9, 0.0)


def test_time_left_counts_a_part_per_run_once_per_batch_and_once_per_landed_day() -> None:
    history = {"raw": [(1, 2.0), (3, 4.0)], "dwh": [(1, 10.0), (7, 40.0)]}
    progress = RunProgress({"raw": 3, "dwh": 3}, Estimator(history), daily=("raw",))

    # raw: 1 s a run + 1 s a day, three runs; dwh: 5 s a run + 5 s a day, one run of three days
    assert progress.left() == 3 * (1 + 1) + (5 + 3 * 5)


def test_without_history_the_estimate_waits_for_this_runs_first_step_then_uses_its_median(
    ledger: Ledger,
) -> None:
    progress = RunProgress(PLANNED, Estimator.from_ledger(ledger, list(PLANNED)))

    assert progress.left() is None
    progress.finish(step("raw", [NOV_1], 12))
    assert progress.left() == 2 * 12 + 3 * 12 + 3 * 12  # the other steps: every step's median
    progress.finish(step("raw", [NOV_2], 6))
    assert progress.left() == 9 + 3 * 9 + 3 * 9
    progress.finish(step("raw", [NOV_3], 100, Ended.FAILED))  # says nothing of raw's time
    progress.finish(step("dwh", [NOV_1, NOV_2], 30))  # 15 s a day
    assert progress.left() == 15 + 3 * 12  # dwh: its own; marts: the median per day of all runs


def test_the_first_steps_warm_up_does_not_swell_the_estimate(ledger: Ledger) -> None:
    # make demo on an empty ledger: raw's first day 6.7 s (GX and dbt warm up), then 0.8, 0.6;
    # a mean said 2m15s left after day 1 and still 48.6 s after day 3 for a 23.8 s run.
    progress = RunProgress({"raw": 7, "dwh": 7}, Estimator.from_ledger(ledger, ["raw", "dwh"]))
    for day, seconds in zip([NOV_1, NOV_2, NOV_3], [6.7, 0.8, 0.6], strict=True):
        progress.finish(step("raw", [day], seconds))
    assert progress.left() == pytest.approx(4 * 0.8 + 7 * 0.8)


def test_a_step_with_history_keeps_it_while_one_without_learns_from_this_run(
    ledger: Ledger, clock: Clock
) -> None:
    attempts(ledger, clock, "raw", [NOV_1], 8)
    progress = RunProgress(PLANNED, Estimator.from_ledger(ledger, list(PLANNED)))

    assert progress.left() is None  # dwh and marts have no history and nothing ran yet
    progress.finish(step("raw", [NOV_1], 2))
    assert progress.left() == 2 * 8 + 3 * 2 + 3 * 2


def test_skipped_days_count_as_done_and_teach_nothing(ledger: Ledger, clock: Clock) -> None:
    attempts(ledger, clock, "marts", [NOV_1], 5)
    progress = RunProgress({"marts": 3}, Estimator.from_ledger(ledger, ["marts"]))

    progress.finish(step("marts", [NOV_1, NOV_2], 0, Ended.SKIPPED))
    assert (progress.done, progress.left()) == (2, 5)


def test_a_batch_ends_as_the_worst_of_its_days() -> None:
    assert ended([Status.SUCCEEDED, Status.SUCCEEDED]) == Ended.OK
    assert ended([Status.SUCCEEDED, Status.BLOCKED]) == Ended.BLOCKED
    assert ended([Status.BLOCKED, Status.FAILED, Status.SUCCEEDED]) == Ended.FAILED


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.04, "0.0s"), (12.44, "12.4s"), (59.9, "59.9s"), (59.97, "1m00s"), (100, "1m40s"),
     (3599.4, "59m59s"), (7500, "2h05m")],
)  # fmt: skip
def test_durations_read_in_seconds_then_minutes_then_hours(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_finished_batch_is_one_line_with_done_total_and_time_left() -> None:
    progress = RunProgress({"dwh": 3, "marts": 18}, Estimator({"marts": [(18, 100.0)]}))
    done = step("dwh", [NOV_1, NOV_2, NOV_3], 12.4)
    progress.finish(done)

    assert line(done, progress) == "progress 3/21 dwh 2026-11-01..2026-11-03 ok 12.4s · left ~1m40s"
    progress.finish(step("marts", [NOV_1] * 18, 90))
    assert line(done, progress).endswith("21/21 dwh 2026-11-01..2026-11-03 ok 12.4s · left 0s")


def test_a_line_before_any_estimate_says_so_and_a_skipped_step_shows_no_time() -> None:
    progress = RunProgress({"raw": 1, "dwh": 1}, Estimator({}))
    progress.finish(step("raw", [NOV_1], 0, Ended.SKIPPED))

    assert line(step("raw", [NOV_1], 0, Ended.SKIPPED), progress) == (
        "progress 1/2 raw 2026-11-01 skipped · left estimating…"
    )


def test_the_longest_line_fits_80_columns_and_keeps_its_dates_whole() -> None:
    days = [date(2026, 11, 1), date(2027, 1, 29)]
    progress = RunProgress({"an_unusually_long_step_name": 9999}, Estimator({}))
    progress.done = 9998
    progress.remaining["an_unusually_long_step_name"] = 1
    done = step("an_unusually_long_step_name", days, 36_000, Ended.BLOCKED)
    progress.estimator.measure(done)

    shown = line(done, progress)
    assert len(shown) <= 80, shown
    assert " 2026-11-01..2027-01-29 blocked 10h00m · left ~5h00m" in shown
    assert shown.startswith("progress 9998/9999 an_unusu… 2026-11-01")
    assert line(step("marts", days, 36_000, Ended.BLOCKED), progress).startswith(
        "progress 9998/9999 marts 2026-11-01..2027-01-29"
    )


def test_off_a_terminal_and_outside_a_flow_each_finished_step_is_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = RunProgress({"raw": 2, "dwh": 2}, Estimator({"dwh": [(1, 5.0)]}))

    with showing(progress) as reporter:
        reporter.started("raw", [NOV_1])
        reporter.finished("raw", [NOV_1], Ended.FAILED)
        reporter.started("raw", [NOV_2])
        reporter.finished("raw", [NOV_2], Ended.OK)
        reporter.skipped("dwh", [NOV_1])
        reporter.started("dwh", [NOV_2])
        reporter.finished("dwh", [NOV_2], Ended.BLOCKED)

    out, err = capsys.readouterr()
    assert out == ""
    assert re.fullmatch(
        r"progress 1/4 raw 2026-11-01 failed \d+\.\ds · left estimating…\n"
        r"progress 2/4 raw 2026-11-02 ok \d+\.\ds · left ~10\.0s\n"
        r"progress 3/4 dwh 2026-11-01 skipped · left ~5\.0s\n"
        r"progress 4/4 dwh 2026-11-02 blocked \d+\.\ds · left 0s\n",
        err,
    ), err
