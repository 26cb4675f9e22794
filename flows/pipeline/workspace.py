"""What one pipeline process holds open: settings, dbt project, lake, warehouse, ledger, locks."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

from flows.alerts.incidents import Incidents
from flows.alerts.notifier import Notifier
from flows.dates import Clock, utc_now
from flows.errors import StateMismatch
from flows.gates.runner import Gates
from flows.lake.layout import Lake
from flows.lake.opener import open_lake
from flows.pipeline.blocking import Blocker
from flows.project.code import code_versions
from flows.project.dbt_runner import DbtProject
from flows.project.manifest import AUDIT_SUFFIX, ModelTable, Project, build_project, git_sha
from flows.settings import Secrets, Settings, get_settings, holiday_dates
from flows.state.cards import save_card
from flows.state.ledger import Ledger
from flows.state.locks import Locks
from flows.state.store import StateStore
from flows.warehouse.choose import warehouse_for
from flows.warehouse.interface import Warehouse

# The pipeline's dbt parse: every gated layer is built into `<schema>_audit`, checked there,
# and published to `<schema>` by the warehouse (write-audit-publish on every layer).
BUILD_VARS = {"build_schema_suffix": AUDIT_SUFFIX}


def parse_project(settings: Settings, warehouse: Warehouse) -> DbtProject:
    """The pipeline's parse of the dbt project for this warehouse."""
    return DbtProject(settings, {**warehouse.dbt_vars, **BUILD_VARS})


def warm_parse() -> None:
    """Parse as a flow run would, with this process's settings: dbt keeps the result in the
    project's target/ and the next parse with the same settings and files is a partial one
    (the worker image runs this at build)."""
    settings = get_settings()
    parse_project(settings, warehouse_for(settings))


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
        dbt = parse_project(settings, warehouse)
        store = StateStore(settings.state)
        project = build_project(dbt.manifest, settings.project_dir, AUDIT_SUFFIX)
        save_card(store, project.card(), clock().isoformat())  # what status reads, unparsed
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

    def code_versions(self) -> dict[str, str]:
        """Each step's code version now: a digest of its files (what the ledger records)."""
        return code_versions(self.settings.project_dir, self.project.card())

    @cached_property
    def store(self) -> StateStore:
        return self.ledger.store

    @cached_property
    def gates(self) -> Gates:
        """The quality gates (Great Expectations is imported on first use)."""
        today = self.ledger.clock().year
        return Gates(
            self.warehouse,
            self.project,
            self.settings.project_dir,
            self.store,
            self.ledger.clock,
            holiday_dates(self.settings.holidays, range(today - 50, today + 2)),
        )

    @property
    def data_docs(self) -> Path:
        """Where Great Expectations Data Docs are written, one folder per run."""
        return data_docs_root(self.settings)

    def publish(
        self,
        layer: str,
        first: date,
        last: date,
        *,
        restore: bool = False,
        only: list[ModelTable] | None = None,
    ) -> int:
        """Copy a layer's windows (of `only` those relations) for lake days first..last from its
        audit schemas to the published ones (restore: back, so the audit copy drops rows
        nobody accepted)."""
        tables = self.project.tables(layer) if only is None else only
        if not tables:
            return 0
        return self.warehouse.publish(tables, first, last, restore=restore)

    @property
    def accepted(self) -> dict[tuple[date, str], str]:
        """Days and steps an operator accepted despite their checks (`sluice accept`): why."""
        return self.ledger.accepted()

    def blocker(self) -> Blocker:
        """What the ledger refused so far, to find the models a step must not run."""
        return Blocker(self.project, self.ledger.latest(), set(self.accepted))

    def check_warehouse(self, run_id: str) -> None:
        """Bind a new state store to this warehouse, or refuse a store bound to another one
        (StateMismatch): the ledger must never call done what this warehouse does not hold.

        Runs may start together on a new warehouse where writers overlap (BigQuery): the first
        creates the warehouse's identity and binds the store under the lock BINDING_LOCK, and
        the others wait, then find both; the store is read before the warehouse, so a store
        bound meanwhile describes an identity already written."""
        bound = self.store.binding()
        if bound is None:
            with self.locks.waiting(
                BINDING_LOCK, run_id, patience=self.settings.lease_seconds, poll=0.5
            ):
                bound = self.store.binding()
                if bound is None:
                    made = self.warehouse.identity() or self.warehouse.identity(create=True)
                    self.store.bind(str(made), self.warehouse.name, self.ledger.clock().isoformat())
                    return
        found = self.warehouse.identity()
        if found == bound.id:
            return
        what = f"warehouse {found}" if found else "a new warehouse (it carries no Sluice identity)"
        raise StateMismatch(
            f"the state store {self.settings.state} describes warehouse {bound.id} ({bound.name},"
            f" bound {bound.bound_at[:19]}), but {self.warehouse.name} is {what}: its ledger "
            "would call done what this warehouse does not hold. Give this warehouse its own "
            "state store (unset SLUICE_STATE: by default it sits beside the warehouse), or move "
            f"{self.settings.state} away to rebuild from the lake"
        )

    def fence(self, run_id: str) -> None:
        """Raise LockLost unless this run still holds every lock it took (before publishing)."""
        self.locks.check_held(run_id)


# The lock under which a new state store is bound to its warehouse (Workspace.check_warehouse).
BINDING_LOCK = "state:binding"


def open_incidents(settings: Settings, store: StateStore, clock: Clock = utc_now) -> Incidents:
    """The incidents of a state store, with the notifier the settings configure."""
    notifier = Notifier.from_settings(settings.notify, Secrets())
    return Incidents(store, notifier, clock, data_docs_root(settings))


def data_docs_root(settings: Settings) -> Path:
    """Great Expectations Data Docs, one folder per run, beside the state store."""
    return settings.state_dir / "data_docs"
