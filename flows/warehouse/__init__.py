"""The warehouse: one object per target (a DuckDB file or a BigQuery project), chosen once.

Everything outside dbt that reads or writes the warehouse goes through it: landing, the gates'
datasource and failing rows, row counts, publishing, the janitor's sweeps, the ops mirror.
Only this package imports duckdb or the BigQuery client, and only `choose.py` reads the target.
"""
