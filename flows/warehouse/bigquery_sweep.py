"""The janitor's sweep of a BigQuery project: audit and quarantine rows past retention (one
MERGE-delete each, BigQuery's DELETE without the emulator gap), and relations of Sluice's audit
datasets that no model builds any more (listed and dropped through the tables API, not
INFORMATION_SCHEMA, which the emulator lacks; never another dataset's)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flows.project.identifiers import identifier, project_id
from flows.project.manifest import QUARANTINE, RAW_SCHEMA
from flows.settings import RetentionSettings
from flows.warehouse.interface import AUDIT_SCHEMA
from flows.warehouse.records import Sweep


def _literal(cutoff: date | datetime) -> str:
    """A date or timestamp literal of a cutoff Sluice computed (never user input)."""
    if isinstance(cutoff, datetime):
        return f"timestamp '{cutoff.isoformat(sep=' ')}'"
    return f"date '{cutoff.isoformat()}'"


class BigQuerySweep:
    """What the janitor finds (or, with apply, deletes) in one BigQuery project."""

    def __init__(self, client: Any, project: str) -> None:
        self.client = client
        self.project = project_id(project)

    def sweep(
        self,
        retention: RetentionSettings,
        now: datetime,
        *,
        apply: bool,
        audit_schemas: frozenset[str],
        built: set[tuple[str, str]],
    ) -> list[Sweep]:
        audit_cutoff = now - timedelta(days=retention.audit_days)
        quarantine_cutoff = (now - timedelta(days=retention.quarantine_days)).date()
        sweeps = [
            Sweep(
                "audit.gate_failures rows",
                f"{self.project}.{AUDIT_SCHEMA}.gate_failures",
                f"checked more than {retention.audit_days} days ago",
                self._old_rows(AUDIT_SCHEMA, "gate_failures", "checked_at", audit_cutoff, apply),
            ),
            Sweep(
                "raw.quarantine rows",
                f"{self.project}.{RAW_SCHEMA}.{QUARANTINE}",
                f"lake days more than {retention.quarantine_days} days ago",
                self._old_rows(RAW_SCHEMA, QUARANTINE, "dt", quarantine_cutoff, apply),
            ),
        ]
        unused = self._unused_audit_relations(audit_schemas, built)
        if apply:
            for schema, name in unused:
                self.client.delete_table(self._name(schema, name), not_found_ok=True)
        sweeps.append(Sweep.unused_audit_relations(unused, audit_schemas))
        return sweeps

    def _name(self, schema: str, table: str) -> str:
        return f"{self.project}.{identifier(schema, 'schema')}.{identifier(table, 'table')}"

    def _exists(self, schema: str, table: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(self._name(schema, table))
        except NotFound:
            return False
        return True

    def _old_rows(
        self, schema: str, table: str, column: str, cutoff: date | datetime, apply: bool
    ) -> int:
        """Rows of schema.table whose column is before cutoff: counted, or deleted with apply."""
        if not self._exists(schema, table):
            return 0
        relation = f"`{self._name(schema, table)}`"
        old = f"{identifier(column, 'column')} < {_literal(cutoff)}"
        rows = list(self.client.query(f"select count(*) from {relation} where {old}").result())
        count = int(rows[0][0]) if rows else 0
        if apply and count:
            self.client.query(
                f"merge {relation} as dest using (select 1 as nothing) as src on false"
                f" when not matched by source and dest.{old} then delete"
            ).result()
        return count

    def _unused_audit_relations(
        self, schemas: frozenset[str], built: set[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        from google.api_core.exceptions import NotFound

        found = []
        for schema in sorted(schemas):
            try:
                tables = list(
                    self.client.list_tables(f"{self.project}.{identifier(schema, 'schema')}")
                )
            except NotFound:
                continue  # the dataset was never built
            names = sorted(t.table_id for t in tables)
            found += [(schema, name) for name in names if (schema, name) not in built]
        return found
