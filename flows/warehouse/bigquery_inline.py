"""The `bigquery+sluice` SQLAlchemy dialect: BigQuery's, with every bound value inlined.

SQLAlchemy renders the values with the BigQuery dialect's own literal renderers, so a statement
reaches BigQuery's DB-API without query parameters and runs the same on BigQuery and on the
emulator (which refuses parameters: bq_gaps.yml `query_parameters`). Only for statements whose
values are Sluice's own (the gates: committed suites, validated dates), never user input.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy_bigquery.base import BigQueryCompiler, BigQueryDialect


class InlineBigQueryCompiler(BigQueryCompiler):  # type: ignore[misc]
    """Compiles as if `compile_kwargs={"literal_binds": True}` were given every time."""

    def __init__(self, dialect: Any, statement: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["compile_kwargs"] = {**(kwargs.get("compile_kwargs") or {}), "literal_binds": True}
        super().__init__(dialect, statement, *args, **kwargs)


class InlineBigQueryDialect(BigQueryDialect):  # type: ignore[misc]
    """BigQuery's dialect with InlineBigQueryCompiler."""

    statement_compiler = InlineBigQueryCompiler
    # A cached compiled statement would keep the values of its first use.
    supports_statement_cache = False
