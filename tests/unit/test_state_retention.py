"""The janitor's sweep of the state store, on a SQLite file and on a PostgreSQL database: it
counts, then deletes, only superseded attempts and gate rows and resolved incidents past their
retention; the latest attempt and check of each step stay."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flows.alerts.incidents import Incidents, Kind, Problem, Severity
from flows.settings import RetentionSettings
from flows.state.ledger import Attempt, Ledger, Outcome, Status
from flows.state.location import StateLocation
from flows.state.retention import sweep_state
from flows.state.store import StateStore

NOW = datetime(2027, 6, 1, tzinfo=UTC)
LONG_AGO, LATELY = NOW - timedelta(days=100), NOW - timedelta(days=1)
DAY = date(2027, 2, 1)
RETENTION = RetentionSettings(ledger_days=30, incident_days=30)


def _filled(where: StateLocation) -> StateStore:
    store = StateStore(where)
    old = Ledger(store, clock=lambda: LONG_AGO)
    old.finish(_start(old, "raw"), Outcome(Status.FAILED, error_class="StepFailed"))  # superseded
    old.finish(_start(old, "raw"), Outcome(Status.SUCCEEDED))  # the latest: stays
    old.finish(_start(old, "dwh"), Outcome(Status.FAILED, error_class="StepFailed"))  # latest too
    with store.transaction() as con:
        for checked in (LONG_AGO, LONG_AGO + timedelta(hours=1), LATELY):
            con.execute(
                """insert into gate_checks (dt, layer, suite, run_id, checked_at, success,
                    row_count, details) values (:dt, 'raw', 'raw.events', 'r', :at, 1, 9, '[]')""",
                {"dt": DAY.isoformat(), "at": checked.isoformat()},
            )
    for when, what in ((LONG_AGO, "app.events"), (LATELY, "app_db.jobs")):
        incidents = Incidents(store, clock=lambda when=when: when)  # type: ignore[misc]
        incidents.open(Problem(Kind.SOURCE_STALE, Severity.CRITICAL, DAY, "raw", what))
        incidents.resolve(DAY, "raw", what=what)
    Incidents(store, clock=lambda: LONG_AGO).open(
        Problem(Kind.SOURCE_STALE, Severity.CRITICAL, DAY, "raw", "app.users")  # still open
    )
    return store


def _start(ledger: Ledger, layer: str) -> Attempt:
    return ledger.start(DAY, layer, "run-1", code_version="c", input_fingerprint="i")


def test_the_state_sweep_counts_then_deletes_only_what_is_past_retention(
    state_location: StateLocation,
) -> None:
    store = _filled(state_location)
    counted = sweep_state(store, RETENTION, NOW, apply=False)
    assert [(s.what, s.where, s.rule, s.count) for s in counted] == [
        ("superseded ledger attempts", "state store partition_attempts", "older than 30 days", 1),
        ("superseded gate results", "state store gate_checks", "older than 30 days", 2),
        ("resolved incidents", "state store incidents", "older than 30 days", 1),
    ]
    assert [s.count for s in sweep_state(store, RETENTION, NOW, apply=True)] == [1, 2, 1]
    assert [(a.layer, a.attempt, a.status) for a in Ledger(store).attempts()] == [
        ("dwh", 1, Status.FAILED),
        ("raw", 2, Status.SUCCEEDED),
    ]
    assert store.read("select checked_at from gate_checks") == [{"checked_at": LATELY.isoformat()}]
    assert sorted((i.what, i.status.value) for i in Incidents(store).history()) == [
        ("app.users", "open"),
        ("app_db.jobs", "resolved"),
    ]
    assert [s.count for s in sweep_state(store, RETENTION, NOW, apply=True)] == [0, 0, 0]
