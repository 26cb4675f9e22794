"""The Warehouse interface: everything Sluice does in a warehouse outside dbt."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from flows.lake.layout import Lake
from flows.project.lake_tables import LakeTable
from flows.project.manifest import ModelTable
from flows.settings import RetentionSettings
from flows.state.store import StateStore
from flows.warehouse.logical_size import SizesByDate
from flows.warehouse.records import PartitionLanding, Published, Sweep

AUDIT_SCHEMA = "audit"
AUDIT_COLUMNS = (
    "run_id",
    "checked_at",
    "dt",
    "layer",
    "suite",
    "expectation",
    "severity",
    "column_name",
    "failing_row",
)


class OpsMirror(Protocol):
    """Publishes the state store's ledger, gate checks and incidents where analysts query them."""

    def publish(self, run_id: str, *, force: bool = False) -> Published:
        """Send every table changed since its last publish (every table with force)."""
        ...


class Warehouse(Protocol):
    """A DuckDB file or a BigQuery project: landing, gates, counts, publishing, sweeps, ops."""

    @property
    def name(self) -> str:
        """What and where, for messages (`the DuckDB file /path`, `the BigQuery project p`)."""
        ...

    @property
    def lock_key(self) -> str | None:
        """The lock that serialises writers of this warehouse (None: writers may overlap)."""
        ...

    @property
    def build_lock_key(self) -> str | None:
        """The lock that serialises the dbt steps of runs that overlap (they share the audit
        copies they build, gate and publish from); None: lock_key serialises whole runs."""
        ...

    @property
    def concurrent_writers(self) -> bool:
        """Whether several runs may write at once (a DuckDB file has one writer)."""
        ...

    @property
    def aware_timestamps(self) -> bool:
        """Whether timestamps come back zone-aware (BigQuery: UTC) or naive (DuckDB)."""
        ...

    @property
    def dbt_vars(self) -> dict[str, str]:
        """Parse and run vars the pipeline's dbt project needs on this warehouse."""
        ...

    def land(
        self,
        lake: Lake,
        tables: tuple[LakeTable, ...],
        dt: date,
        *,
        lateness_days: int,
        load_id: str,
        schema: str,
    ) -> PartitionLanding:
        """Replace lake day dt in the raw tables and the quarantine of `schema` (the audit
        schema, published once the raw gate passed; raw itself: published at once)."""
        ...

    def add_gx_datasource(self, context: Any, name: str) -> None:
        """Register the warehouse as Great Expectations SQL datasource `name`."""
        ...

    def quote(self, name: str) -> str:
        """One identifier quoted for this warehouse's SQL (names pass identifier() first)."""
        ...

    def select_rows(self, query: str) -> list[dict[str, Any]]:
        """The rows of a query, as dicts."""
        ...

    def append_failures(self, rows: list[list[Any]]) -> None:
        """Append rows (AUDIT_COLUMNS order) to audit.gate_failures, creating it if needed."""
        ...

    def count_rows(self, relations: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Rows of each (schema, table) now; 0 for one that does not exist yet."""
        ...

    def rows_per_day(
        self, relations: list[tuple[str, str, str]], first: date, last: date
    ) -> dict[tuple[str, str], dict[date, int] | None]:
        """Rows per date of each (schema, table, date column) in first..last: None for a table
        that does not exist, {} for one that does when its column is '' (existence only)."""
        ...

    def logical_sizes(
        self,
        relation: tuple[str, str],
        columns: list[str],
        date_column: str,
        first: date,
        last: date,
    ) -> SizesByDate | None:
        """BigQuery's logical bytes of `columns` (those the relation has) and the rows, per date
        of `date_column` in first..last (one query), or of the whole relation when the column
        is ''; None for a relation that does not exist."""
        ...

    @property
    def dry_runs(self) -> bool:
        """Whether dry_run_bytes answers (real BigQuery; not DuckDB or the emulator)."""
        ...

    def dry_run_bytes(self, sql: str) -> int | None:
        """The bytes BigQuery would bill for `sql`, by a dry run (None: this warehouse cannot
        tell, e.g. DuckDB or the emulator)."""
        ...

    def identity(self, *, create: bool = False) -> str | None:
        """The id this warehouse carries (created with create), which its state store is bound
        to; None for a warehouse Sluice never wrote."""
        ...

    def publish(
        self, tables: list[ModelTable], first: date, last: date, *, restore: bool = False
    ) -> int:
        """Copy each table's window of lake days first..last from where it is built to where
        it is published (whole tables without a partition column), by column name, all or
        nothing where the warehouse allows; restore: the other way, so the build copy drops
        what nobody accepted. A raw table's build copy only holds days in flight: publishing
        moves them (on DuckDB both are views of one store: publishing marks the day's load
        published, copying nothing). The statements it ran."""
        ...

    def sweep(
        self,
        retention: RetentionSettings,
        now: datetime,
        *,
        apply: bool,
        audit_schemas: frozenset[str],
        built: set[tuple[str, str]],
    ) -> list[Sweep]:
        """Audit and quarantine rows past retention, and relations of Sluice's audit schemas
        (`audit_schemas`, from the manifest) not in `built`: counted, or deleted with apply."""
        ...

    def ops_mirror(self, store: StateStore) -> OpsMirror | None:
        """Where the state store is published for analysts (None: it is read where it is)."""
        ...
