"""Sluice: lake days through raw, DWH and marts with dbt, gated by Great Expectations, on Prefect.

Subpackages, lowest first (a package imports only those above it in this list, or itself):
project (the dbt manifest as Sluice sees it), lake (where lake partitions are), landing (reading
lake files), warehouse (DuckDB or BigQuery: the one place that knows which), state (ledger,
locks), gates (quality checks), ops (incidents, notifications, watchdog, janitor, local Prefect
server), pipeline (the Prefect flows), cli (the `sluice` command), and sample (the sample-lake
generator, which the pipeline never imports). docs/architecture.md draws the whole.
"""
