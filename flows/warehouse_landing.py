"""Landing behind one interface: the DuckDB or the BigQuery implementation, chosen by the target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from flows.lake import Lake
from flows.landing import PartitionLanding, connect, land_partition
from flows.project import LakeTable
from flows.settings import Settings


class Landing(Protocol):
    """Replaces one lake day in raw and the quarantine of a warehouse."""

    def land(
        self,
        lake: Lake,
        tables: tuple[LakeTable, ...],
        dt: date,
        *,
        lateness_days: int,
        load_id: str,
    ) -> PartitionLanding: ...


@dataclass(frozen=True)
class DuckDBLanding:
    """Lands into the DuckDB warehouse file, in one transaction."""

    path: Path

    def land(
        self,
        lake: Lake,
        tables: tuple[LakeTable, ...],
        dt: date,
        *,
        lateness_days: int,
        load_id: str,
    ) -> PartitionLanding:
        con = connect(self.path)
        try:
            return land_partition(
                con, lake, tables, dt, lateness_days=lateness_days, load_id=load_id
            )
        finally:
            con.close()


def landing_for(settings: Settings) -> Landing:
    """The landing of the configured target (SLUICE_TARGET)."""
    from flows.bigquery import BIGQUERY_TARGETS, bigquery_client

    if settings.target in BIGQUERY_TARGETS:
        from flows.bigquery_landing import BigQueryLanding

        return BigQueryLanding(bigquery_client(settings), settings.bq_project)
    return DuckDBLanding(settings.duckdb)
