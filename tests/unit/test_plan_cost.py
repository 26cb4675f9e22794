"""A plan's cost: the runs each step makes, priced at the step's time fitted to the ledger."""

from __future__ import annotations

from datetime import date

import pytest

from flows.cli.tables import plan_time
from flows.pipeline.plan import PlanCost, PlannedDay, step_runs
from flows.pipeline.progress import StepTime, fit

STEPS = ("raw", "dwh", "marts")


def _day(day: int, first: str) -> PlannedDay:
    return PlannedDay(date(2026, 11, day), first, "never run")


def test_landing_runs_a_day_at_a_time_and_later_steps_one_run_per_group_of_days() -> None:
    planned = [_day(1, "raw"), _day(2, "raw"), _day(3, "raw"), _day(4, "dwh"), _day(5, "marts")]
    assert step_runs(planned, STEPS) == {"raw": [1, 1, 1], "dwh": [3, 1], "marts": [3, 1, 1]}
    gap = [_day(1, "raw"), _day(3, "raw")]  # not consecutive: two runs
    assert step_runs(gap, STEPS) == {"raw": [1, 1], "dwh": [1, 1], "marts": [1, 1]}
    assert step_runs([], STEPS) == {"raw": [], "dwh": [], "marts": []}


def test_runs_of_two_sizes_split_a_steps_time_into_a_part_per_run_and_one_per_day() -> None:
    # a 14-day dbt step is no 14 daily runs: its start, the gates' context and publishing are
    # paid once per run
    time = fit([(1, 10.0), (1, 12.0), (1, 99.0), (7, 40.0)])  # sizes' medians: 12 and 40
    assert time == StepTime(pytest.approx(12 - 28 / 6), pytest.approx(28 / 6))
    assert time is not None and time.seconds(14) == pytest.approx(12 - 28 / 6 + 14 * 28 / 6)


def test_one_size_of_run_gives_a_time_per_day_and_no_history_none() -> None:
    assert fit([(1, 6.7), (1, 0.8), (1, 0.6)]) == StepTime(0.0, 0.8)
    assert fit([(3, 30.0)]) == StepTime(0.0, 10.0)
    assert fit([]) is None


def test_a_fit_is_never_negative() -> None:
    assert fit([(1, 20.0), (5, 10.0)]) == StepTime(15.0, 0.0)  # longer runs were faster
    # a line through these would start below zero: per day only (median of 1 and 2)
    assert fit([(1, 1.0), (10, 20.0)]) == StepTime(0.0, 1.5)


def test_the_estimate_adds_the_steps_it_runs_and_names_its_basis() -> None:
    cost = PlanCost(
        {"raw": [1, 1], "dwh": [2], "marts": []},
        {"raw": StepTime(0.0, 1.5), "dwh": StepTime(30.0, 5.0), "marts": None},
    )
    assert cost.units == {"raw": 2, "dwh": 2, "marts": 0}
    assert cost.seconds == 43.0
    assert plan_time(cost) == (
        "estimated time: ~43.0s (raw 2 days one at a time ~3.0s, dwh 1 run of 2 days ~40.0s: "
        "each step's recent successes in the ledger, a part per run plus a part per lake day)"
    )


def test_a_step_without_history_makes_the_time_unknown_and_is_named() -> None:
    cost = PlanCost(
        {"raw": [1, 1, 1], "dwh": [3], "marts": [3]},
        {"raw": StepTime(0.0, 2.0), "dwh": None, "marts": None},
    )
    assert cost.seconds is None
    assert plan_time(cost) == (
        "estimated time: unknown until dwh, marts succeeded once here "
        "(raw 3 days one at a time ~6.0s, dwh 1 run of 3 days ?, marts 1 run of 3 days ?)"
    )
