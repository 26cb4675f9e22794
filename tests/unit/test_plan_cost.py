"""A plan's cost: the lake days each step runs, priced at the ledger's seconds per day."""

from __future__ import annotations

from datetime import date

from flows.cli.tables import plan_time
from flows.pipeline.plan import PlanCost, PlannedDay, step_days

STEPS = ("raw", "dwh", "marts")


def test_each_day_runs_from_its_first_step_to_the_last() -> None:
    planned = [
        PlannedDay(date(2026, 11, 1), "raw", "never run"),
        PlannedDay(date(2026, 11, 2), "dwh", "failed"),
        PlannedDay(date(2026, 11, 3), "marts", "stale"),
    ]
    assert step_days(planned, STEPS) == {"raw": 1, "dwh": 2, "marts": 3}
    assert step_days([], STEPS) == {"raw": 0, "dwh": 0, "marts": 0}


def test_the_estimate_adds_the_steps_it_runs_and_names_its_basis() -> None:
    cost = PlanCost({"raw": 2, "dwh": 2, "marts": 0}, {"raw": 1.5, "dwh": 40.0, "marts": None})
    assert cost.seconds == 83.0
    assert plan_time(cost) == (
        "estimated time: ~1m23s (raw 2 days at 1.5s, dwh 2 days at 40.0s each: the median of "
        "the step's recent successes in the ledger)"
    )


def test_a_step_without_history_makes_the_time_unknown_and_is_named() -> None:
    cost = PlanCost({"raw": 3, "dwh": 3, "marts": 3}, {"raw": 2.0, "dwh": None, "marts": None})
    assert cost.seconds is None
    assert plan_time(cost) == (
        "estimated time: unknown until dwh, marts succeeded once here "
        "(raw 3 days at 2.0s, dwh 3 days at ?, marts 3 days at ?)"
    )
