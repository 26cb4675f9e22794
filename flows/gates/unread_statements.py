"""Two kinds of statement Great Expectations sends whose rows nobody reads: not sent, or cut.

1. A sample of failing values for every row-level check, passing or not. GX has no result
   format that keeps the counts yet skips the sample, so the gates ask for a sample of 0
   (flows/gates/runner.py) and GX builds `... LIMIT 0`. Such a SELECT has no rows whatever the
   data: it is answered here with an empty result of its columns, not sent.
2. The batch's own query, run whole to learn its column names (GX's fallback for a query
   asset): every row of the checked window, read for the names alone. It is sent as
   `select * from (<batch>) limit 0`, which has the same columns and no rows.

On DuckDB both were cheap; on BigQuery each was a query job, and the column probe returned the
window's rows. In one daily run (300 events a day, 2026-12-08) the first kind was 61 of GX's
191 statements, the second 20. The column probe is still one job per validation: what BigQuery
bills for it is bq_gaps.yml `gate_column_probe`.
"""

from __future__ import annotations

from typing import Any

_MARK = "_sluice_unread_statements"


class UnreadStatements:
    """Installed on the SQL execution engine of the gates' data source. `Gates` calls `install`
    before each validation: a no-op on the engine it is installed on, which GX keeps while the
    data source's settings stay the same."""

    def __init__(self) -> None:
        self.batch_sql = ""  # the validation running now (GX's context runs one at a time)

    def install(self, engine: Any) -> None:
        if getattr(engine, _MARK, None) is self:
            return
        from sqlalchemy import event

        send = engine.execute_query

        def execute_query(query: Any) -> Any:
            if getattr(query, "_limit", None) == 0 and hasattr(query, "selected_columns"):
                return no_rows(query)
            return send(query)

        engine.execute_query = execute_query
        event.listen(engine.engine, "before_execute", self._columns_only, retval=True)
        setattr(engine, _MARK, self)

    def _columns_only(
        self, _conn: Any, clause: Any, multiparams: Any, params: Any, _options: Any
    ) -> tuple[Any, Any, Any]:
        from sqlalchemy import TextClause, text

        if isinstance(clause, TextClause) and self.batch_sql and clause.text == self.batch_sql:
            clause = text(f"select * from ({self.batch_sql}) as columns_of_batch limit 0")
        return clause, multiparams, params


def no_rows(query: Any) -> Any:
    """An empty SQLAlchemy result with the columns `query` selects."""
    from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

    names = [column.key for column in query.selected_columns]
    return IteratorResult(SimpleResultMetaData(names), iter(()))
