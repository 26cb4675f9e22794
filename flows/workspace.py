"""What one pipeline process holds open: settings, parsed project, lake, ledger, locks."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path

from flows.dbt_runner import DbtProject, target_vars
from flows.gates import Gates
from flows.incidents import Incidents
from flows.lake import Lake, open_lake
from flows.ledger import Clock, Ledger, utc_now
from flows.locks import Locks
from flows.notifier import Notifier
from flows.project import Project, build_project, git_sha
from flows.settings import Secrets, Settings, get_settings
from flows.state_store import StateStore

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
        dbt: DbtProject,
        project: Project,
        lake: Lake,
        ledger: Ledger,
        locks: Locks,
        git_sha: str | None,
        incidents: Incidents,
    ) -> None:
        self.settings = settings
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
        dbt = DbtProject(settings, target_vars(settings))
        store = StateStore(settings.state)
        project = build_project(dbt.manifest, settings.project_dir)
        incidents = open_incidents(settings, store, clock)
        return cls(
            settings=settings,
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
        return Gates(self.settings, self.project, self.store, self.ledger.clock)

    @property
    def data_docs(self) -> Path:
        """Where Great Expectations Data Docs are written, one folder per run."""
        return data_docs_root(self.settings)

    @cached_property
    def publishing(self) -> DbtProject:
        """The project parsed for write-audit-publish: published layers build into *_audit."""
        suffix = {"publish_schema_suffix": AUDIT_SUFFIX}
        return DbtProject(self.settings, target_vars(self.settings, suffix), variant="audit")

    @cached_property
    def publish_layers(self) -> frozenset[str]:
        """Layers whose models land in an audit schema first (derived from the two manifests)."""
        audited = self.publishing.manifest.nodes
        return frozenset(
            (node.config.meta or {}).get("layer", "")
            for uid, node in self.dbt.manifest.nodes.items()
            if node.resource_type == "model" and audited[uid].schema != node.schema
        )

    @property
    def warehouse_lock(self) -> str | None:
        """The lock key serialising writers of a DuckDB file (None where writers may overlap)."""
        if self.settings.target == "dev":
            return f"warehouse:{self.settings.duckdb}"
        return None


def open_incidents(settings: Settings, store: StateStore, clock: Clock = utc_now) -> Incidents:
    """The incidents of a state store, with the notifier the settings configure."""
    notifier = Notifier.from_settings(settings.notify, Secrets())
    return Incidents(store, notifier, clock, data_docs_root(settings))


def data_docs_root(settings: Settings) -> Path:
    """Great Expectations Data Docs, one folder per run, beside the state store."""
    return settings.state.parent / "data_docs"
