"""The one place that reads the target: the warehouse object of the settings."""

from __future__ import annotations

from flows.settings import Settings
from flows.warehouse.bigquery_warehouse import BigQueryWarehouse
from flows.warehouse.duckdb_warehouse import DuckDBWarehouse
from flows.warehouse.interface import Warehouse


def warehouse_for(settings: Settings) -> Warehouse:
    """The warehouse of settings.target: the DuckDB file, BigQuery, or the BigQuery emulator."""
    if settings.target == "bigquery":
        return BigQueryWarehouse(settings, emulator=False)
    if settings.target == "bq_emulator":
        return BigQueryWarehouse(settings, emulator=True)
    return DuckDBWarehouse(settings.duckdb)
