"""What a model's run reads of stored relations: which table, which dates, which columns.

The dates are the model's window widened by its declared reads (flows/project/reads.py); the
columns are those its compiled SQL uses of each upstream (the column lineage's value and filter
sources, flows/project/lineage.py). A view or ephemeral model is read through: what it reads of
its own upstreams, for the columns the reader uses of it, at the dates the reader reads of it.
A relation the lineage could not trace is read whole (every column its YAML declares).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flows.project.lineage import Lineage
from flows.project.manifest import RAW_LAYER, RAW_SCHEMA, Project
from flows.project.nodes import models

# The columns of every raw table (flows/warehouse/duckdb_landing.py, bigquery_landing.py).
RAW_COLUMNS = ("dt", "source_file", "line_number", "payload", "loaded_at", "load_id")
_MAX_DEPTH = 20


@dataclass(frozen=True)
class StoredRead:
    """A stored relation a model reads: where it is published, its date column ('' for a
    relation read whole), the dates read (None: every date), the columns, and the lake tables
    behind it."""

    relation: tuple[str, str]
    date_column: str
    dates: tuple[date, date] | None
    columns: frozenset[str]
    lake_tables: frozenset[str]


class ModelReads:
    """The stored reads of the project's models, from its manifest and column lineage."""

    def __init__(self, project: Project, lineage: Lineage) -> None:
        self.project = project
        self.lineage = lineage
        self.nodes = {n.name: n for n in models(project.manifest)}
        self.uids: dict[str, str] = {n.unique_id: n.name for n in self.nodes.values()}
        for uid, source in project.manifest.sources.items():
            self.uids[uid] = source.name
        self.stored = {
            table.name: table for layer in project.layers for table in project.tables(layer)
        }

    def of(self, model: str, start: date, end: date) -> list[StoredRead]:
        """What a run of lake days start..end of `model` reads, merged per relation."""
        window = self.project.window(model).bounds(start, end)
        merged: dict[tuple[str, str], StoredRead] = {}
        for read in self._reads(model, window, None, 0):
            seen = merged.get(read.relation)
            merged[read.relation] = read if seen is None else _union(seen, read)
        return sorted(merged.values(), key=lambda r: r.relation)

    def _columns_used(self, model: str, columns: frozenset[str] | None) -> dict[str, set[str]]:
        """Upstream name -> the columns `model` uses of it (for its `columns`; None: all)."""
        node = self.nodes[model]
        traced = self.lineage.models.get(node.unique_id)
        used: dict[str, set[str]] = {}
        if traced is None or traced.error:
            return {}
        for column in traced.columns:
            if columns is not None and column.column not in columns:
                continue
            for ref in (*column.values, *column.filters):
                name = self.uids.get(ref.node)
                if name is not None:
                    used.setdefault(name, set()).add(ref.column)
        return used

    def _reads(
        self,
        model: str,
        dates: tuple[date, date] | None,
        columns: frozenset[str] | None,
        depth: int,
    ) -> list[StoredRead]:
        used = self._columns_used(model, columns)
        found: list[StoredRead] = []
        for upstream in self.project.upstreams(model):
            read = upstream.reach.dates(dates) if dates is not None else None
            wanted = used.get(upstream.name)
            if upstream.kind in ("view", "ephemeral"):
                if depth < _MAX_DEPTH:
                    view_columns = frozenset(wanted) if wanted is not None else None
                    found += self._reads(upstream.name, read, view_columns, depth + 1)
                continue
            if upstream.layer == RAW_LAYER:
                relation, column = (RAW_SCHEMA, upstream.name), "dt"
                all_columns: tuple[str, ...] = RAW_COLUMNS
            else:
                table = self.stored[upstream.name]
                relation, column = table.published, table.partition_column or ""
                all_columns = tuple(self.project.columns_of(upstream.name))
            if not column:
                read = None
            found.append(
                StoredRead(
                    relation,
                    column,
                    read,
                    frozenset(wanted if wanted is not None else all_columns),
                    self.lake_tables_of(upstream.name, upstream.layer),
                )
            )
        return found

    def lake_tables_of(self, name: str, layer: str, depth: int = 0) -> frozenset[str]:
        """The lake tables a relation is built from (a raw table: itself)."""
        if layer == RAW_LAYER:
            return frozenset({name})
        found: set[str] = set()
        if depth < _MAX_DEPTH:
            for upstream in self.project.upstreams(name):
                found |= self.lake_tables_of(upstream.name, upstream.layer, depth + 1)
        return frozenset(found)


def _union(a: StoredRead, b: StoredRead) -> StoredRead:
    """One read covering both (the span of their dates, every column of either)."""
    dates: tuple[date, date] | None = None
    if a.dates is not None and b.dates is not None:
        dates = (min(a.dates[0], b.dates[0]), max(a.dates[1], b.dates[1]))
    return StoredRead(
        a.relation, a.date_column, dates, a.columns | b.columns, a.lake_tables | b.lake_tables
    )


def run_models(project: Project, layer: str) -> list[str]:
    """The models of a layer whose run reads data: tables and incremental models (creating a
    view or an ephemeral model reads nothing)."""
    return [t.name for t in project.tables(layer)]
