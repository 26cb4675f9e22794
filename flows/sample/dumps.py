"""The Parquet dumps of the simulated app database: applications and A/B patterns, as of a day."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from flows.sample.world import World


def applications_table(world: World) -> pa.Table:
    """The applications dump: every application with its current status."""
    apps = world.applications
    return pa.table(
        {
            "application_id": pa.array([a.application_id for a in apps], pa.string()),
            "user_id": pa.array([a.user_id for a in apps], pa.string()),
            "job_id": pa.array([a.job_id for a in apps], pa.string()),
            "applied_at": pa.array([a.applied_ms for a in apps], pa.timestamp("ms")),
            "status": pa.array([a.status for a in apps], pa.string()),
            "status_updated_at": pa.array([a.status_ms for a in apps], pa.timestamp("ms")),
        }
    )


def patterns_table(world: World, day: date) -> pa.Table:
    """The ab_patterns dump of `day`: every pattern started by then."""
    started = [p for p in world.patterns if p.started <= day]
    return pa.table(
        {
            "ab_test_id": pa.array([p.ab_test_id for p in started], pa.string()),
            "pattern_id": pa.array([p.pattern_id for p in started], pa.string()),
            "description": pa.array([p.description for p in started], pa.string()),
            "is_active": pa.array([p.is_active(day) for p in started], pa.bool_()),
            "started_date": pa.array([p.started for p in started], pa.date32()),
        }
    )
