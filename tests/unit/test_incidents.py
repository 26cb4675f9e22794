"""Incidents, the notifier's retries, deadlines and the operations settings, without servers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flows.alerts.incidents import (
    Incident,
    Incidents,
    Kind,
    Problem,
    Severity,
    Status,
    attempt_problem,
    incident_schema,
)
from flows.alerts.notifier import Notifier, signature
from flows.errors import InvalidParameter, ProjectError
from flows.project.deadlines import parse_deadline
from flows.settings import PROJECT_DIR, NotifySettings, Secrets, Settings, get_settings
from flows.state.ledger import Attempt
from flows.state.ledger import Status as StepStatus
from flows.state.location import StateLocation
from flows.state.store import StateStore

SCHEMA_FILE = PROJECT_DIR / "schemas" / "incident.v1.json"
DAY = date(2026, 11, 3)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Inbox:
    """Collects notifications (stands in for the notifier; the sinks are tested for real in
    tests/integration/test_incidents.py)."""

    def __init__(self) -> None:
        self.got: list[Incident] = []

    def notify(self, incident: Incident) -> None:
        self.got.append(incident)


def test_the_committed_schema_is_the_models_schema() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == incident_schema(), (
        "the Incident model changed: `make schemas` regenerates the file (a change that breaks "
        "receivers needs a new version: incident.v2.json)"
    )
    jsonschema.Draft202012Validator.check_schema(committed)


def gate_problem(run_id: str = "run-1") -> Problem:
    return Problem(
        Kind.GATE_BLOCKED,
        Severity.CRITICAL,
        DAY,
        "marts",
        "marts.daily_kpis.ctr expect_column_values_to_be_between",
        "GateFailed",
        "3 bad rows",
        run_id,
    )


def test_the_same_problem_is_one_incident_until_it_is_resolved(
    state_location: StateLocation,
) -> None:
    clock, inbox = Clock(), Inbox()
    incidents = Incidents(StateStore(state_location), inbox, clock)

    first = incidents.open(gate_problem())
    clock.now += timedelta(minutes=5)
    again = incidents.open(gate_problem("run-2"))
    assert again.id == first.id
    assert (again.count, again.first_seen, again.last_seen, again.run_id) == (
        2,
        first.first_seen,
        clock.now,
        "run-2",
    )
    assert [i.id for i in inbox.got] == [first.id]  # the repeat was not sent

    other_layer = incidents.resolve(DAY, "dwh")
    assert other_layer == [] and len(inbox.got) == 1
    clock.now += timedelta(minutes=5)
    (resolved,) = incidents.resolve(DAY, "marts")
    assert (resolved.id, resolved.status, resolved.resolved_at, resolved.count) == (
        first.id,
        Status.RESOLVED,
        clock.now,
        2,
    )
    assert incidents.resolve(DAY, "marts") == []
    assert [(i.id, i.status) for i in inbox.got] == [
        (first.id, Status.OPEN),
        (first.id, Status.RESOLVED),
    ]

    reopened = incidents.open(gate_problem("run-3"))  # it comes back: a new incident
    assert reopened.id != first.id and reopened.count == 1
    assert [i.status for i in incidents.history()] == [Status.OPEN, Status.RESOLVED]
    assert [i.id for i in incidents.history(open_only=True)] == [reopened.id]
    schema = json.loads(SCHEMA_FILE.read_text())
    for incident in inbox.got:
        jsonschema.validate(incident.model_dump(mode="json"), schema)


def attempt(status: str, error_class: str, message: str, **details: Any) -> Attempt:
    started = datetime(2026, 11, 4, 1, 0, tzinfo=UTC)
    return Attempt(
        DAY, "dwh", 1, "run-1", status, started, started, "code", "inputs", None,
        error_class=error_class, error_message=message, details=details,
    )  # fmt: skip


def test_failed_attempts_name_what_failed_and_consequences_open_nothing() -> None:
    def names(layer: str, message: str) -> str:
        return "fct_events" if "fct_events:" in message else f"dbt layer {layer}"

    failed = attempt_problem(
        attempt(
            StepStatus.FAILED,
            "StepFailed",
            "dbt layer dwh failed for partition 2026-11-03: fct_events: x",
        ),
        names,
    )
    assert failed is not None
    assert (failed.kind, failed.severity, failed.what, failed.layer) == (
        Kind.STEP_FAILED,
        Severity.CRITICAL,
        "fct_events",
        "dwh",
    )
    transient = attempt_problem(
        attempt(StepStatus.FAILED, "TransientStepFailure", "IO: timed out"), names
    )
    assert transient is not None and transient.severity == Severity.WARNING
    blocking = [
        "dwh.fct_events.event_id expect_column_values_to_be_unique (observed None, 400 bad rows)",
        "dwh.fct_events expect_table_row_count_to_be_between (observed 10, 0 bad rows)",
    ]
    gate = attempt_problem(attempt(StepStatus.BLOCKED, "GateFailed", "; ".join(blocking), gate={
        "blocking": blocking}), names)  # fmt: skip
    assert gate is not None and gate.kind == Kind.GATE_BLOCKED
    assert gate.what == (
        "dwh.fct_events expect_table_row_count_to_be_between; "
        "dwh.fct_events.event_id expect_column_values_to_be_unique"
    )
    for consequence in (
        attempt(
            StepStatus.BLOCKED, "WindowBlocked", "the window of 2026-11-03 includes 2026-11-02"
        ),
        attempt(StepStatus.FAILED, "NotPublished", "checked, but not published"),
        attempt(
            StepStatus.FAILED,
            "StepFailed",
            "dbt layer dwh failed for partition 2026-11-01..2026-11-05",
        ),
    ):
        assert attempt_problem(consequence, names) is None


class FlakySink:
    def __init__(self, failures: int, name: str = "flaky") -> None:
        self.name = name
        self.failures = failures
        self.sent = 0

    def send(self, incident: Incident) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("connection refused")
        self.sent += 1


def an_incident(severity: Severity = Severity.CRITICAL) -> Incident:
    now = datetime(2026, 11, 4, tzinfo=UTC)
    return Incident(
        id="abc", kind=Kind.SLA_MISSED, severity=severity, status=Status.OPEN, partition=DAY,
        layer="marts", what="daily_kpis", first_seen=now, last_seen=now, count=1,
    )  # fmt: skip


def test_delivery_is_retried_with_exponential_backoff_and_never_raises() -> None:
    waits: list[float] = []
    recovering, dead = FlakySink(2, "recovering"), FlakySink(99, "dead")
    notifier = Notifier([recovering, dead], attempts=4, backoff_seconds=0.5, sleep=waits.append)

    assert notifier.notify(an_incident()) == {"recovering": True, "dead": False}
    assert recovering.sent == 1
    # the recovering sink waits twice, then the dead one three times and gives up after 4 tries
    assert waits == [0.5, 1.0, 0.5, 1.0, 2.0]
    assert dead.failures == 99 - 4


def test_warnings_stay_in_the_log_when_sinks_want_critical_only() -> None:
    sink = FlakySink(failures=0)
    notifier = Notifier([sink], min_severity="critical", sleep=lambda _: None)
    assert notifier.notify(an_incident(Severity.WARNING)) == {}
    assert notifier.notify(an_incident(Severity.CRITICAL)) == {"flaky": True}
    assert sink.sent == 1


def test_the_webhook_needs_its_secret_from_the_environment() -> None:
    notify = NotifySettings(webhook_url="http://127.0.0.1:9/hook")
    with pytest.raises(InvalidParameter, match="SLUICE_WEBHOOK_SECRET"):
        Notifier.from_settings(notify, Secrets(webhook_secret=None))
    notifier = Notifier.from_settings(notify, Secrets(webhook_secret="k"))
    assert [s.name for s in notifier.sinks] == ["webhook"]
    # the RFC 4231-style published example of HMAC-SHA256
    assert signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_sluice_toml_configures_sinks_but_never_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "sluice.toml"
    config.write_text(
        """
[notify]
webhook_url = "http://127.0.0.1:8999/hook"
attempts = 2
[notify.email]
host = "127.0.0.1"
port = 2525
sender = "sluice@example.com"
recipients = ["oncall@example.com"]
[retention]
ledger_days = 10
"""
    )
    monkeypatch.setenv("SLUICE_CONFIG", str(config))
    monkeypatch.delenv("SLUICE_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("SLUICE_NOTIFY__ATTEMPTS", "3")  # the environment wins over the file
    settings = Settings()
    assert settings.notify.webhook_url == "http://127.0.0.1:8999/hook"
    assert settings.notify.attempts == 3
    assert settings.notify.email is not None and settings.notify.email.port == 2525
    assert settings.retention.ledger_days == 10
    assert Secrets().webhook_secret is None
    monkeypatch.setenv("SLUICE_WEBHOOK_SECRET", "from-env")
    assert Secrets().webhook_secret == "from-env"

    config.write_text('webhook_secret = "in-the-file"\n' + config.read_text())
    get_settings.cache_clear()
    try:
        with pytest.raises(InvalidParameter) as refused:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert str(refused.value).startswith(f"settings in {config} or SLUICE_* env vars: ")
    assert str(refused.value).endswith(
        "webhook_secret is a secret: set SLUICE_WEBHOOK_SECRET in the environment, never in the"
        " file"
    )


@pytest.mark.parametrize(
    ("spec", "due"),
    [
        ("12:00 Asia/Tokyo", datetime(2026, 11, 4, 3, 0, tzinfo=UTC)),
        ("08:00 Asia/Tokyo", datetime(2026, 11, 4, 23, 0, tzinfo=UTC)),  # 09:00 JST has passed
        ("00:00 UTC", datetime(2026, 11, 4, 0, 0, tzinfo=UTC)),
        ("12:00 America/Los_Angeles", datetime(2026, 11, 4, 20, 0, tzinfo=UTC)),
    ],
)
def test_a_deadline_is_the_first_local_time_after_the_utc_day_ends(
    spec: str, due: datetime
) -> None:
    assert parse_deadline("marts", "daily_kpis", spec).due(DAY) == due


@pytest.mark.parametrize("spec", ["noon", "25:00 Asia/Tokyo", "12:00 Mars/Olympus"])
def test_a_bad_deadline_names_the_model(spec: str) -> None:
    with pytest.raises(ProjectError, match=r"daily_kpis: meta sluice\.deadline"):
        parse_deadline("marts", "daily_kpis", spec)
