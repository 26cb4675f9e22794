"""Incidents end to end on real dbt, DuckDB, GX, a real HTTP receiver and a real SMTP server:
a failed step, a blocked gate, a missed SLA and a stale source each notify exactly once per
sink with the committed schema, a repeat does not notify, a repair sends exactly one
"resolved", and a sink that is down never fails the pipeline. Also the janitor's retention."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import jsonschema
import pytest

from flows.errors import PartitionsFailed
from flows.ops import watchdog
from flows.pipeline.run_report import page_path
from flows.pipeline.runs import run_partitions
from flows.pipeline.workspace import Workspace
from flows.settings import PROJECT_DIR, EmailSink, NotifySettings, Settings
from flows.state.ledger import Status as StepStatus
from tests.integration.receivers import (
    HttpReceiver,
    attachment,
    free_port,
    http_receiver,
    smtp_receiver,
)
from tests.support import Build, add_model, copy_build, copy_project, lake_days, settings_at

pytestmark = pytest.mark.usefixtures("prefect_server")

DAYS = lake_days()
SCHEMA = json.loads((PROJECT_DIR / "schemas" / "incident.v1.json").read_text())
SECRET = "test-hmac-key"
HOOK, SLACK = "/hooks/sluice", "/slack/T000/B000/XXXX"
# A dwh model that fails whenever a run's lake days include `day` (a batch of days, then the day).
FAILING_MODEL = """\
{{{{ config(materialized='table', contract={{'enforced': false}}) }}}}

select count(*) as n
from {{{{ ref('fct_events') }}}}
where case
    when date '{day}' between cast('{{{{ var("run_start") }}}}' as date)
        and cast('{{{{ var("run_end") }}}}' as date)
        then error('injected failure for {day}')
    else true
end
"""
CTR = "{{ ratio('clicks', 'impressions') }}"
BAD_CTR = (
    "case when event_date = date '{day}'"
    f" then cast({CTR} * 10 + 1 as {{{{ type_rate() }}}}) else {CTR} end"
)


@dataclass
class Sinks:
    """The receivers and the notify settings that point at them."""

    http: HttpReceiver
    smtp_port: int
    mailbox: Any

    def notify(self, webhook: str | None = None, attempts: int = 3) -> NotifySettings:
        return NotifySettings(
            webhook_url=webhook or self.http.url(HOOK),
            email=EmailSink(
                host="127.0.0.1",
                port=self.smtp_port,
                sender="sluice@example.com",
                recipients=("oncall@example.com",),
            ),
            attempts=attempts,
            backoff_seconds=0,  # retries without real waiting (the backoff is unit-tested)
            timeout_seconds=5,
        )

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook body, after checking its signature and the schema."""
        bodies = []
        for post in self.http.at(HOOK):
            expected = hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
            assert post.headers["x-sluice-signature"] == f"sha256={expected}"
            body = post.json()
            jsonschema.validate(body, SCHEMA)
            assert post.headers["x-sluice-event"] == (
                "resolved" if body["status"] == "resolved" else "opened"
            )
            bodies.append(body)
        return bodies

    def chats(self) -> list[str]:
        return [post.json()["text"] for post in self.http.at(SLACK)]

    def mails(self) -> list[dict[str, Any]]:
        found = []
        for message in self.mailbox.messages:
            body = attachment(message)
            jsonschema.validate(body, SCHEMA)
            assert message["Subject"].startswith("sluice: [")
            found.append(body)
        return found

    def all_agree(self) -> list[dict[str, Any]]:
        """The webhook's notifications, after checking Slack and email got the same ones."""
        hooks = self.webhooks()
        assert self.mails() == hooks
        chats = self.chats()
        assert len(chats) == len(hooks)
        for text, body in zip(chats, hooks, strict=True):
            assert body["what"] in text.splitlines()[0]
            shown = "resolved" if body["status"] == "resolved" else body["severity"]
            assert text.startswith(f"[{shown}]")
        return hooks


@pytest.fixture()
def sinks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sinks]:
    with http_receiver() as http, smtp_receiver() as (port, mailbox):
        monkeypatch.setenv("SLUICE_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("SLUICE_SLACK_WEBHOOK_URL", http.url(SLACK))
        yield Sinks(http, port, mailbox)


def with_sinks(settings: Settings, notify: NotifySettings) -> Settings:
    return settings.model_copy(update={"notify": notify})


def incident_fields(body: dict[str, Any]) -> tuple[Any, ...]:
    return (
        body["kind"],
        body["status"],
        body["severity"],
        body["partition"],
        body["layer"],
        body["what"],
        body["count"],
    )


# ---- a failed step ---------------------------------------------------------------------------


def test_a_failed_step_notifies_once_and_resolves_once_after_repair(
    clean: Build, sinks: Sinks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_day = DAYS[2]
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    model = add_model(
        project / "models" / "dwh", "fct_injected", FAILING_MODEL.format(day=bad_day), "n"
    )
    warehouse, state = copy_build(clean, tmp_path / "build")
    settings = with_sinks(
        settings_at(project, clean.settings.lake, warehouse, state), sinks.notify()
    )
    ws = Workspace.open(settings)

    # every day from dwh: the 5-day batch fails, then each day alone: only bad_day fails
    with pytest.raises(PartitionsFailed) as raised:
        run_partitions(ws, [(day, "dwh") for day in DAYS])
    first = raised.value.report
    assert [r.dt for r in first.failed] == [bad_day]
    batch = [a for a in ws.ledger.attempts() if a.run_id == first.run_id and a.layer == "dwh"]
    assert [a.status for a in batch].count(StepStatus.FAILED) == len(
        DAYS
    ) + 1  # 5 in the batch, then 1

    (opened,) = sinks.all_agree()
    assert incident_fields(opened) == (
        "step_failed", "open", "critical", bad_day.isoformat(), "dwh", "fct_injected", 1
    )  # fmt: skip
    assert opened["error_class"] == "StepFailed"
    assert f"injected failure for {bad_day}" in opened["error_message"]
    assert opened["run_id"] == first.run_id
    failed_at = ws.ledger.latest()[bad_day, "dwh"].finished_at
    assert failed_at is not None
    delay = sinks.http.at(HOOK)[0].received_at - failed_at.timestamp()
    assert delay >= 0
    with capsys.disabled():
        print(f"\n[measure] failed step -> webhook received: {delay * 1000:.1f} ms")

    # the same failure again: counted, not sent
    with pytest.raises(PartitionsFailed):
        run_partitions(ws, [(bad_day, "dwh")])
    assert len(sinks.http.posts) == 2 and len(sinks.mailbox.messages) == 1
    (stored,) = ws.incidents.history()
    assert (stored.id, stored.count, stored.status) == (opened["id"], 2, "open")

    model.unlink()  # the repair: the model and its YAML go
    model.with_name(f"_{model.stem}.yml").unlink()
    ws = Workspace.open(settings)
    repaired = run_partitions(ws, [(bad_day, "dwh")])
    assert repaired.failed == []
    assert ws.ledger.latest()[bad_day, "marts"].status == StepStatus.SUCCEEDED
    hooks = sinks.all_agree()
    assert len(hooks) == 2
    resolved = hooks[1]
    assert incident_fields(resolved) == (
        "step_failed", "resolved", "critical", bad_day.isoformat(), "dwh", "fct_injected", 2
    )  # fmt: skip
    assert resolved["id"] == opened["id"] and resolved["resolved_at"] is not None
    assert ws.incidents.history(open_only=True) == []
    page = page_path(settings.reports_dir, repaired.run_id).read_text()
    assert f"Sluice run {repaired.run_id}" in page
    assert page.count("<td>succeeded</td>") == 2  # dwh and marts of bad_day


# ---- a blocked gate --------------------------------------------------------------------------


def test_a_blocked_gate_notifies_once_and_resolves_once_after_repair(
    clean: Build, sinks: Sinks, tmp_path: Path
) -> None:
    bad_day = DAYS[1]
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    kpis = project / "models" / "marts" / "kpi" / "daily_kpis.sql"
    original = kpis.read_text()
    kpis.write_text(
        original.replace(CTR + " as ctr", BAD_CTR.replace("{day}", str(bad_day)) + " as ctr")
    )
    warehouse, state = copy_build(clean, tmp_path / "build")
    settings = with_sinks(
        settings_at(project, clean.settings.lake, warehouse, state), sinks.notify()
    )
    ws = Workspace.open(settings)

    for _ in range(2):  # blocked twice: one notification
        with pytest.raises(PartitionsFailed):
            run_partitions(ws, [(bad_day, "marts")])
    (opened,) = sinks.all_agree()
    assert incident_fields(opened) == (
        "gate_blocked",
        "open",
        "critical",
        bad_day.isoformat(),
        "marts",
        "marts.daily_kpis.ctr expect_column_values_to_be_between",
        1,
    )
    assert opened["error_class"] == "GateFailed"
    assert opened["error_message"] == (  # counts and where the rows are, not observed values
        "marts.daily_kpis.ctr expect_column_values_to_be_between: 3 bad rows (failing rows in "
        f"audit.gate_failures, run_id {opened['run_id']})"
    )
    (stored,) = ws.incidents.history()
    assert stored.count == 2
    assert (stored.error_message or "").endswith("(observed None, 3 bad rows)")
    # the link is the Data Docs page its run wrote, showing the failed suite
    docs = Path(urlparse(opened["links"]["data_docs"]).path)
    assert docs.parts[-2:] == (opened["run_id"], "index.html")
    assert any("daily_kpis" in page.read_text() for page in docs.parent.rglob("*.html"))

    kpis.write_text(original)
    ws = Workspace.open(settings)
    assert run_partitions(ws, [(bad_day, "marts")]).failed == []
    hooks = sinks.all_agree()
    assert [(h["id"], h["status"], h["count"]) for h in hooks] == [
        (opened["id"], "open", 1),
        (opened["id"], "resolved", 2),
    ]


# ---- a missed SLA and a stale source (the watchdog) -----------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_watchdog_raises_a_missed_sla_and_a_stale_source_once_and_resolves_them(
    clean: Build, sinks: Sinks, tmp_path: Path
) -> None:
    last = DAYS[-1]
    lake = tmp_path / "lake"
    shutil.copytree(clean.settings.lake, lake)
    marker = lake / "dumps" / "jobs" / f"dt={last}" / "_SUCCESS"
    marker.unlink()  # the jobs dump of the last day has not finished arriving
    warehouse, state = copy_build(clean, tmp_path / "build")
    with closing(sqlite3.connect(state)) as con, con:
        con.execute("delete from partition_attempts where dt = ?", (last.isoformat(),))
    # marts of `last` were due at 12:00 Tokyo the next day (03:00 UTC), the lake at 10:00 Tokyo
    clock = Clock(datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
                  + timedelta(hours=4))  # fmt: skip
    notify = sinks.notify()
    absent = tmp_path / "no-warehouse" / "warehouse.duckdb"
    watch = Workspace.open(
        with_sinks(settings_at(clean.settings.project_dir, lake, absent, state), notify), clock
    )

    findings = watchdog.check(watch, run_id="watchdog-1")
    late = sorted((f.dt, f.layer, f.what) for f in findings if f.late)
    marts = "ab_pattern_results, application_funnel, bandit_weights, daily_kpis, " \
        "recommendation_performance"  # fmt: skip
    assert late == [(last, "marts", marts), (last, "raw", "app_db.jobs")]
    judged = {(f.dt, f.layer) for f in findings}
    assert judged == {(day, layer) for day in DAYS for layer in ("raw", "marts")}
    assert not absent.exists() and not absent.parent.exists()  # the warehouse was never opened

    hooks = sinks.all_agree()
    assert sorted(incident_fields(h) for h in hooks) == [
        ("sla_missed", "open", "critical", last.isoformat(), "marts", marts, 1),
        ("source_stale", "open", "critical", last.isoformat(), "raw", "app_db.jobs", 1),
    ]
    sla = next(h for h in hooks if h["kind"] == "sla_missed")
    assert sla["error_message"] == (
        f"marts of {last} not published by {last + timedelta(days=1)} 03:00 UTC "
        "(12:00 Asia/Tokyo): it never ran"
    )
    stale = next(h for h in hooks if h["kind"] == "source_stale")
    assert stale["error_message"].startswith(f"lake partition {marker.parent} has no _SUCCESS")

    clock.now += timedelta(minutes=10)  # the next watchdog run: nothing new to say
    watchdog.check(watch, run_id="watchdog-2")
    assert len(sinks.webhooks()) == 2
    assert sorted(i.count for i in watch.incidents.history()) == [2, 2]

    marker.write_text("")  # the delivery completes
    watchdog.check(watch, run_id="watchdog-3")
    hooks = sinks.all_agree()
    assert [(h["kind"], h["status"]) for h in hooks[2:]] == [("source_stale", "resolved")]

    ws = Workspace.open(
        with_sinks(settings_at(clean.settings.project_dir, lake, warehouse, state), notify), clock
    )
    assert run_partitions(ws, [(last, None)]).failed == []  # published, late
    hooks = sinks.all_agree()
    assert [(h["kind"], h["status"], h["id"]) for h in hooks[3:]] == [
        ("sla_missed", "resolved", sla["id"])
    ]
    assert watchdog.check(watch, run_id="watchdog-4") and len(sinks.webhooks()) == 4
    assert watch.incidents.history(open_only=True) == []


# ---- a sink that is down --------------------------------------------------------------------


def test_a_sink_that_is_down_does_not_fail_the_pipeline(
    clean: Build, sinks: Sinks, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad_day = DAYS[3]
    project = copy_project(tmp_path / "project", clean.settings.project_dir)
    add_model(project / "models" / "dwh", "fct_injected", FAILING_MODEL.format(day=bad_day), "n")
    warehouse, state = copy_build(clean, tmp_path / "build")
    dead = f"http://127.0.0.1:{free_port()}/hooks/sluice"  # nothing listens there
    settings = with_sinks(
        settings_at(project, clean.settings.lake, warehouse, state),
        sinks.notify(webhook=dead, attempts=3),
    )
    ws = Workspace.open(settings)

    with (
        caplog.at_level(logging.WARNING, logger="sluice.incidents"),
        pytest.raises(PartitionsFailed) as raised,
    ):
        run_partitions(ws, [(bad_day, "dwh")])
    assert [r.dt for r in raised.value.report.failed] == [bad_day]
    assert (raised.value.report.failed[0].error or "").startswith(
        f"dwh: dbt layer dwh failed for partition {bad_day}: fct_injected"
    )
    (incident,) = ws.incidents.history()
    assert (incident.kind, incident.what, incident.count) == ("step_failed", "fct_injected", 1)
    gave_up = [r.getMessage() for r in caplog.records if "gave up" in r.getMessage()]
    assert gave_up == [
        f"notification sink webhook gave up on incident {incident.id} after 3 tries: "
        "<urlopen error [Errno 111] Connection refused>"
    ]
    retried = [r for r in caplog.records if "notification sink webhook failed" in r.getMessage()]
    assert len(retried) == 2
    # the other sinks still got it
    assert [attachment(m)["id"] for m in sinks.mailbox.messages] == [incident.id]
    assert len(sinks.chats()) == 1


def test_the_incidents_command_lists_them_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: pytest.MonkeyPatch
) -> None:
    from flows.alerts.incidents import Incidents, Kind, Problem, Severity
    from flows.cli.main import main
    from flows.state.store import StateStore

    state = tmp_path / "state.sqlite"
    incidents = Incidents(StateStore(state))
    problem = Problem(Kind.SOURCE_STALE, Severity.CRITICAL, DAYS[0], "raw", "app.events")
    first = incidents.open(problem)
    incidents.resolve(DAYS[0], "raw")
    second = incidents.open(problem)
    clean_env.setenv("SLUICE_STATE", str(state))

    assert main(["incidents", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    for body in listed:
        jsonschema.validate(body, SCHEMA)
    assert [(i["id"], i["status"]) for i in listed] == [
        (second.id, "open"),
        (first.id, "resolved"),
    ]
    assert main(["incidents", "--open", "--json"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == [second.id]


# ---- retention: the janitor -----------------------------------------------------------------


def test_the_janitor_counts_then_deletes_only_what_is_past_retention(
    clean: Build, tmp_path: Path
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterId,
    )

    from flows.alerts.incidents import Incidents, Kind, Problem, Severity
    from flows.ops import janitor
    from flows.settings import RetentionSettings
    from flows.state.store import StateStore
    from tests.support import table_checksums

    now = datetime(2027, 6, 1, tzinfo=UTC)
    long_ago, lately = now - timedelta(days=100), now - timedelta(days=1)
    warehouse, state = copy_build(clean, tmp_path / "build")
    retention = RetentionSettings(
        ledger_days=30, incident_days=30, audit_days=30, report_days=30,
        quarantine_days=(now.date() - DAYS[2]).days,  # lake days before DAYS[2] are past it
    )  # fmt: skip
    settings = settings_at(clean.settings.project_dir, clean.settings.lake, warehouse, state)
    settings = settings.model_copy(update={"retention": retention})

    # superseded attempts: an old failed try before the first attempt of two steps
    with closing(sqlite3.connect(state)) as con, con:
        for day in DAYS[:2]:
            con.execute(
                """insert into partition_attempts (dt, layer, attempt, run_id, status, started_at,
                    finished_at, code_version, input_fingerprint)
                values (?, 'raw', 0, 'old', 'failed', ?, ?, 'c', 'f')""",
                (day.isoformat(), long_ago.isoformat(), long_ago.isoformat()),
            )
        latest_before = con.execute(
            "select dt, layer, max(attempt) from partition_attempts group by 1, 2 order by 1, 2"
        ).fetchall()
    incidents = Incidents(StateStore(state), clock=lambda: long_ago)
    for what in ("app.events", "app_db.jobs"):
        incidents.open(Problem(Kind.SOURCE_STALE, Severity.CRITICAL, DAYS[0], "raw", what))
    incidents.resolve(DAYS[0], "raw", what="app.events")  # resolved long ago; the other is open
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists audit")
        con.execute(
            """create table audit.gate_failures (run_id varchar, checked_at timestamp, dt date,
            layer varchar, suite varchar, expectation varchar, severity varchar,
            column_name varchar, failing_row json)"""
        )
        for checked in (long_ago, long_ago, lately):
            con.execute(
                "insert into audit.gate_failures values ('r', $t, $d, 'raw', 's', 'e', 'critical',"
                " null, '{}')",
                {"t": checked.replace(tzinfo=None), "d": DAYS[0]},
            )
        con.execute("create table marts_audit.retired_mart as select 1 as x")
        con.execute("create view marts_audit.retired_view as select 1 as x")
        con.execute("create schema other_audit")  # not Sluice's: the janitor leaves it alone
        con.execute("create table other_audit.keep_me as select 1 as x")
        quarantined = dict(
            con.execute("select dt, count(*) from raw.quarantine group by dt").fetchall()
        )
    finally:
        con.close()
    reports = settings.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    for name, moment in (("run-old.html", long_ago), ("run-new.html", lately)):
        (reports / name).write_text("<html></html>")
        os.utime(reports / name, (moment.timestamp(), moment.timestamp()))
    published = table_checksums(warehouse, ("dwh", "marts"))
    raw_tables = {
        k: v for k, v in table_checksums(warehouse, ("raw",)).items() if k != "raw.quarantine"
    }
    old_quarantine = sum(n for day, n in quarantined.items() if day < DAYS[2])
    assert old_quarantine > 0

    @flow(name="watchdog")
    def sluice_probe() -> int:  # a run of one of Sluice's flows, by its name
        return 1

    @flow(name="someone-elses-flow")
    def foreign_probe() -> int:  # another project's run on the same server: never deleted
        return 1

    sluice_probe()  # finished flow runs on the test's Prefect API, long before `now`
    foreign_probe()
    with get_client(sync_client=True) as client:
        finished = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["watchdog"]))
        )
        foreign = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["someone-elses-flow"]))
        )
    assert len(finished) >= 1 and len(foreign) == 1

    ws = Workspace.open(settings, clock=lambda: now)
    expected = {
        "superseded ledger attempts": 2,
        "superseded gate results": 0,
        "resolved incidents": 1,
        "audit.gate_failures rows": 2,
        "raw.quarantine rows": old_quarantine,
        "replaced raw load rows": 0,  # a clean build published each day once
        "unused audit relations": 2,
        "run reports": 1,
    }
    found = {s.what: s.count for s in janitor.sweep(ws)}
    runs = found.pop("Prefect flow runs")
    assert found == expected
    assert runs >= len(finished)  # every finished run of this session's API is older than `now`
    assert (reports / "run-old.html").exists()  # a dry run deletes nothing
    assert table_checksums(warehouse, ("raw",))["raw.quarantine"][0] == sum(quarantined.values())

    applied = {s.what: s.count for s in janitor.sweep(ws, apply=True)}
    assert applied.pop("Prefect flow runs") >= len(finished)
    assert applied == expected
    again = {s.what: s.count for s in janitor.sweep(ws)}
    assert again == dict.fromkeys([*expected, "Prefect flow runs"], 0)
    with get_client(sync_client=True) as client:
        assert [r.id for r in finished if client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id])))] == []  # fmt: skip
        assert [r.id for r in client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[foreign[0].id])))
        ] == [foreign[0].id]  # fmt: skip

    with closing(sqlite3.connect(state)) as con:
        assert (
            con.execute(
                "select dt, layer, max(attempt) from partition_attempts group by 1, 2 order by 1, 2"
            ).fetchall()
            == latest_before
        )
        assert con.execute(
            "select count(*) from partition_attempts where attempt = 0"
        ).fetchone() == (0,)
    assert [(i.what, i.status) for i in ws.incidents.history()] == [("app_db.jobs", "open")]
    assert sorted(p.name for p in reports.iterdir()) == ["run-new.html"]
    assert table_checksums(warehouse, ("dwh", "marts")) == published  # never published data
    assert {
        k: v for k, v in table_checksums(warehouse, ("raw",)).items() if k != "raw.quarantine"
    } == raw_tables
    con = duckdb.connect(str(warehouse))
    try:
        left = dict(con.execute("select dt, count(*) from raw.quarantine group by dt").fetchall())
        audit_rows = con.execute("select count(*) from audit.gate_failures").fetchone()
        audit_relations = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts_audit'"
            " order by 1"
        ).fetchall()
        others = con.execute(
            "select table_name from information_schema.tables where table_schema = 'other_audit'"
        ).fetchall()
    finally:
        con.close()
    assert left == {day: n for day, n in quarantined.items() if day >= DAYS[2]}
    assert audit_rows == (1,)
    assert [name for (name,) in audit_relations] == sorted(ws.project.models_in("marts"))
    assert others == [("keep_me",)]


# ---- a flow that fails outside its steps (Prefect state hooks) ------------------------------


def _flow_env(
    env: pytest.MonkeyPatch,
    sinks: Sinks,
    project: Path,
    lake: Path,
    warehouse: Path,
    state: Path,
) -> None:
    """The environment a flow called in-process reads: its files and the sinks to notify."""
    notify = sinks.notify()
    for name, value in {
        "SLUICE_PROJECT_DIR": str(project),
        "SLUICE_LAKE": str(lake),
        "SLUICE_DUCKDB": str(warehouse),
        "SLUICE_STATE": str(state),
        "SLUICE_NOTIFY__WEBHOOK_URL": notify.webhook_url or "",
        "SLUICE_NOTIFY__EMAIL": notify.email.model_dump_json() if notify.email else "",
        "SLUICE_NOTIFY__BACKOFF_SECONDS": "0",
    }.items():
        env.setenv(name, value)


def test_a_flow_refused_by_a_live_runs_lock_opens_a_warning_not_a_page(
    snapshot: Path, lake: Path, sinks: Sinks, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """Two schedules that overlap (a daily run while a backfill holds the warehouse) are worth
    knowing, not waking anyone: the next run catches up what the ledger says is missing."""
    from flows.errors import LockHeld
    from flows.pipeline.prefect_flows import daily
    from flows.state.locks import Locks
    from flows.state.store import StateStore
    from flows.warehouse.duckdb_warehouse import DuckDBWarehouse

    warehouse, state = tmp_path / "warehouse.duckdb", tmp_path / "state.sqlite"
    _flow_env(clean_env, sinks, snapshot, lake, warehouse, state)
    key = DuckDBWarehouse(warehouse).lock_key
    Locks(StateStore(state), host="another-host").acquire(key, "backfill-run")

    with pytest.raises(LockHeld, match="held by run backfill-run"):
        daily()

    (opened,) = sinks.all_agree()
    assert incident_fields(opened) == (
        "step_failed", "open", "warning", None, None, "flow daily", 1
    )  # fmt: skip
    assert opened["error_class"] == "LockHeld"
    assert f"{key} is held by run backfill-run (pid" in opened["error_message"]
    with closing(sqlite3.connect(state)) as con:
        assert con.execute("select count(*) from partition_attempts").fetchone() == (0,)


def test_a_flow_failing_before_its_steps_notifies_once_and_its_next_completion_resolves_it(
    snapshot: Path, lake: Path, sinks: Sinks, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    from flows.errors import PartitionIncomplete
    from flows.pipeline.prefect_flows import daily

    incoming = tmp_path / "lake"
    incoming.mkdir()  # nothing delivered yet
    _flow_env(
        clean_env,
        sinks,
        snapshot,
        incoming,
        tmp_path / "warehouse.duckdb",
        tmp_path / "state.sqlite",
    )

    for _ in range(2):
        with pytest.raises(PartitionIncomplete):
            daily()
    (opened,) = sinks.all_agree()
    assert incident_fields(opened) == (
        "step_failed", "open", "critical", None, None, "flow daily", 1
    )  # fmt: skip
    assert opened["error_class"] == "PartitionIncomplete"
    assert f"no complete lake day under {incoming}" in opened["error_message"]

    for folder in ("events", *(f"dumps/{t}" for t in ("ab_patterns", "applications",
                   "companies", "jobs", "users"))):  # fmt: skip
        shutil.copytree(lake / folder / f"dt={DAYS[0]}", incoming / folder / f"dt={DAYS[0]}")
    report = daily()
    assert report.failed == [] and [r.dt for r in report.runs] == [DAYS[0]]
    hooks = sinks.all_agree()
    assert [(h["id"], h["status"], h["count"]) for h in hooks] == [
        (opened["id"], "open", 1),
        (opened["id"], "resolved", 2),
    ]
    assert hooks[1]["links"]["flow_run"] is None or hooks[1]["links"]["flow_run"].endswith(
        hooks[1]["run_id"]
    )

    # the run report is attached to the flow run in the Prefect UI, and written as a page
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.pipeline.run_report import ARTIFACT_KEY

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[ARTIFACT_KEY]))
        )
    (artifact,) = [a for a in artifacts if str(a.flow_run_id) == report.run_id]
    text = str(artifact.data)
    assert text.startswith(f"# Sluice run {report.run_id} (")
    for layer in ("raw", "dwh", "marts"):
        assert f"| {DAYS[0]} | {layer} | succeeded |" in text
    page = page_path(tmp_path / "reports", report.run_id)
    assert f"<td>{DAYS[0]}</td><td>raw</td><td>succeeded</td>" in page.read_text()
