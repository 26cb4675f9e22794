"""What one pipeline process holds open: settings, dbt project, lake, warehouse, ledger, locks."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

from flows.alerts.incidents import Incidents
from flows.alerts.notifier import Notifier
from flows.dates import Clock, utc_now
from flows.gates.runner import Gates
from flows.lake.layout import Lake
from flows.lake.opener import open_lake
from flows.project.dbt_runner import DbtProject
from flows.project.manifest import Project, build_project, git_sha
from flows.settings import Secrets, Settings, get_settings
from flows.state.ledger import Ledger
from flows.state.locks import Locks
from flows.state.store import StateStore
from flows.warehouse.choose import warehouse_for
from flows.warehouse.interface import Warehouse

AUDIT_SUFFIX = "_audit"


class Workspace:
    """The long-lived parts of a run, opened once per process.

    A plain class on purpose, not a dataclass: the step tasks take the Workspace as a
    parameter, and Prefect walks every dataclass or pydantic parameter of a task looking for
    futures (twice per task run). Through `project.manifest` that walk visited the whole dbt
    manifest, ~78,000 objects and 0.3-1 s per task.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        warehouse: Warehouse,
        dbt: DbtProject,
        project: Project,
        lake: Lake,
        ledger: Ledger,
        locks: Locks,
        git_sha: str | None,
        incidents: Incidents,
    ) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.dbt = dbt
        self.project = project
        self.lake = lake
        self.ledger = ledger
        self.locks = locks
        self.git_sha = git_sha
        self.incidents = incidents

    @classmethod
    def open(cls, settings: Settings | None = None, clock: Clock = utc_now) -> Workspace:
        settings = settings or get_settings()
        warehouse = warehouse_for(settings)
        dbt = DbtProject(settings, warehouse.dbt_vars)
        store = StateStore(settings.state)
        project = build_project(dbt.manifest, settings.project_dir)
        incidents = open_incidents(settings, store, clock)
        return cls(
            settings=settings,
            warehouse=warehouse,
            dbt=dbt,
            project=project,
            lake=open_lake(settings),
            ledger=Ledger(store, clock, on_finish=incidents.observer(project)),
            locks=Locks(store, lease=timedelta(seconds=settings.lease_seconds), clock=clock),
            git_sha=git_sha(settings.project_dir),
            incidents=incidents,
        )

    @cached_property
    def store(self) -> StateStore:
        return self.ledger.store

    @cached_property
    def gates(self) -> Gates:
        """The quality gates (Great Expectations is imported on first use)."""
        return Gates(
            self.warehouse,
            self.project,
            self.settings.project_dir,
            self.store,
            self.ledger.clock,
        )

    @property
    def data_docs(self) -> Path:
        """Where Great Expectations Data Docs are written, one folder per run."""
        return data_docs_root(self.settings)

    @cached_property
    def publishing(self) -> DbtProject:
        """The project parsed for write-audit-publish: published layers build into *_audit."""
        suffix = {**self.warehouse.dbt_vars, "publish_schema_suffix": AUDIT_SUFFIX}
        return DbtProject(self.settings, suffix, variant="audit")

    @cached_property
    def audit_project(self) -> Project:
        """The pipeline's view of the write-audit-publish parse."""
        return build_project(self.publishing.manifest, self.settings.project_dir)

    @cached_property
    def publish_layers(self) -> frozenset[str]:
        """Layers whose models land in an audit schema first (derived from the two manifests)."""
        audited = {
            t.name: t.schema
            for layer in self.project.layers
            for t in self.audit_project.tables(layer)
        }
        return frozenset(
            table.layer
            for layer in self.project.layers
            for table in self.project.tables(layer)
            if audited.get(table.name) != table.schema
        )

    def publish(self, layer: str, first: date, last: date, *, restore: bool = False) -> int:
        """Copy a published layer's windows for lake days first..last from its audit schemas to
        the published ones (restore: back, so the audit copy drops rows nobody accepted)."""
        source, target = (AUDIT_SUFFIX, "") if not restore else ("", AUDIT_SUFFIX)
        tables = self.audit_project.tables(layer)
        return self.warehouse.publish(tables, first, last, source=source, target=target)


def open_incidents(settings: Settings, store: StateStore, clock: Clock = utc_now) -> Incidents:
    """The incidents of a state store, with the notifier the settings configure."""
    notifier = Notifier.from_settings(settings.notify, Secrets())
    return Incidents(store, notifier, clock, data_docs_root(settings))


def data_docs_root(settings: Settings) -> Path:
    """Great Expectations Data Docs, one folder per run, beside the state store."""
    return settings.state.parent / "data_docs"
