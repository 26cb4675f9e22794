"""Column lineage of one compiled SELECT: which table columns feed each output column, and how.

sqlglot parses and qualifies the SQL and splits it into scopes (CTEs, derived tables, set
operations); this module walks those scopes. A column read in a projection (a CASE condition
included) is a *value* source; one read only in WHERE, JOIN, GROUP BY, HAVING, QUALIFY or by a
DISTINCT is a *filter* source, and so is anything upstream of a filter. A column read through a
JSON path (`payload ->> '$.field'`) keeps the path's field name.

Each output column also gets two fingerprints that ignore formatting, comments and the names
of intermediate steps: `expression` (what computes the value, with every reference replaced by
its own fingerprint) and `rows` (the filters, joins and groupings that decide which rows exist).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope, find_all_in_scope

DIALECT = "duckdb"
_ROW_CLAUSES = ("where", "group", "having", "qualify", "limit", "offset")

Relation = tuple[str, str, str]  # database, schema, table, lowercase as the SQL names them


class LineageError(Exception):
    """The SQL cannot be traced (not a query, or a column that is not in it)."""


@dataclass(frozen=True, order=True)
class Read:
    """One column of a table the query reads, with the JSON field read from it, if any."""

    relation: Relation
    column: str
    field: str | None = None


@dataclass(frozen=True)
class Traced:
    """An output column: the table columns it reads by role, and its fingerprints."""

    values: frozenset[Read]
    filters: frozenset[Read]
    expression: str
    rows: str
    complete: bool  # False: some reference could not be resolved (lineage may miss sources)

    @property
    def full(self) -> str:
        return _digest(self.expression, self.rows)


@dataclass(frozen=True)
class _Rows:
    filters: frozenset[Read]
    fingerprint: str
    complete: bool


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _json_field(column: exp.Column) -> str | None:
    """The field name when the column is the document of `->> '$.field'` / `-> '$.field'`."""
    parent = column.parent
    if isinstance(parent, exp.Paren):
        parent = parent.parent
    if not isinstance(parent, exp.JSONExtract | exp.JSONExtractScalar):
        return None
    path = parent.expression
    keys = [p.this for p in path.expressions if isinstance(p, exp.JSONPathKey)]
    if isinstance(path, exp.JSONPath) and len(keys) == 1 and isinstance(keys[0], str):
        return keys[0]
    return None


class _Tracer:
    """Walks the scopes of one qualified query; memoized per (scope, column)."""

    def __init__(self) -> None:
        self._columns: dict[tuple[int, str], Traced] = {}
        self._rows: dict[int, _Rows] = {}

    def column(self, scope: Scope, name: str) -> Traced:
        key = (id(scope), name)
        if key not in self._columns:
            self._columns[key] = self._column(scope, name)
        return self._columns[key]

    def _column(self, scope: Scope, name: str) -> Traced:
        query = _query_of(scope)
        if isinstance(query, exp.SetOperation):
            names = query.named_selects
            if name not in names:
                raise LineageError(f"column {name!r} is not in the set operation")
            index = names.index(name)
            parts = [
                self.column(b, _query_of(b).named_selects[index])
                for b in scope.set_operation_scopes
            ]
            return Traced(
                frozenset().union(*(p.values for p in parts)),
                frozenset().union(*(p.filters for p in parts)),
                _digest(type(query).__name__, *(p.full for p in parts)),
                _digest(*(p.rows for p in parts)),
                all(p.complete for p in parts),
            )
        projection = next((s for s in query.selects if s.alias_or_name == name), None)
        if projection is None:
            raise LineageError(f"column {name!r} is not selected")
        values: set[Read] = set()
        filters: set[Read] = set()
        expression, complete = self._resolve(scope, projection.unalias(), values, filters)
        rows = self.rows(scope)
        return Traced(
            frozenset(values),
            frozenset(filters | rows.filters),
            expression,
            rows.fingerprint,
            complete and rows.complete,
        )

    def rows(self, scope: Scope) -> _Rows:
        """What decides the rows of a scope: its own clauses and its sources' rows."""
        if id(scope) not in self._rows:
            self._rows[id(scope)] = self._rows_of(scope)
        return self._rows[id(scope)]

    def _rows_of(self, scope: Scope) -> _Rows:
        query = _query_of(scope)
        if isinstance(query, exp.SetOperation):
            parts = [self.rows(b) for b in scope.set_operation_scopes]
            return _Rows(
                frozenset().union(*(p.filters for p in parts)),
                _digest(
                    type(query).__name__,
                    str(query.args.get("distinct")),
                    *(p.fingerprint for p in parts),
                ),
                all(p.complete for p in parts),
            )
        filters: set[Read] = set()
        prints: list[str] = []
        complete = True
        clauses: list[exp.Expr] = [c for k in _ROW_CLAUSES if (c := query.args.get(k))]
        for join in query.args.get("joins") or []:
            prints.append(f"{join.side} {join.kind}")
            clauses += [c for k in ("on", "using") if (c := join.args.get(k))]
        if query.args.get("distinct"):
            clauses += [s.unalias() for s in query.selects]
        for clause in clauses:
            text, ok = self._resolve(scope, clause, filters, filters)
            prints.append(f"{clause.key}:{text}")
            complete = complete and ok
        read_from: list[str] = []
        for _, source in scope.selected_sources.values():
            if isinstance(source, Scope):
                inner = self.rows(source)
                filters |= inner.filters
                read_from.append(inner.fingerprint)
                complete = complete and inner.complete
            elif isinstance(source, exp.Table):
                read_from.append(".".join(_relation(source)))
        return _Rows(frozenset(filters), _digest(*prints, *sorted(read_from)), complete)

    def _resolve(
        self, scope: Scope, node: exp.Expr, values: set[Read], filters: set[Read]
    ) -> tuple[str, bool]:
        """Record what `node` reads into values/filters; its fingerprint text; complete?"""
        complete = True
        copy = node.copy()
        # The copy has the same shape: its columns pair with the original's in walk order.
        pairs = zip(
            find_all_in_scope(node, exp.Column),
            list(find_all_in_scope(copy, exp.Column)),
            strict=True,
        )
        for column, copied in pairs:
            found, text = self._reference(scope, column)
            complete = complete and found is not None
            if isinstance(found, Traced):
                values |= _with_field(found.values, _json_field(column))
                filters |= found.filters
            elif isinstance(found, Read):
                values.add(found)
            placeholder = exp.Var(this=text)
            if copied is copy:
                copy = placeholder
            else:
                copied.replace(placeholder)
        for inner in scope.subquery_scopes:
            if not _within(inner.expression, node):
                continue
            for name in _query_of(inner).named_selects:
                traced = self.column(inner, name)
                values |= traced.values
                filters |= traced.filters
                complete = complete and traced.complete
        return copy.sql(dialect=DIALECT, comments=False, normalize=True), complete

    def _reference(self, scope: Scope, column: exp.Column) -> tuple[Traced | Read | None, str]:
        source = scope.sources.get(column.table)
        if isinstance(source, Scope):
            traced = self.column(source, column.name)
            return traced, traced.full
        if isinstance(source, exp.Table):
            read = Read(_relation(source), column.name, _json_field(column))
            return read, ".".join((*read.relation, read.column))
        return None, f"?{column.sql(dialect=DIALECT)}"


def _with_field(reads: frozenset[Read], field: str | None) -> frozenset[Read]:
    """A JSON path applied to a column that passes one table column through reads its field."""
    if field is None or len(reads) != 1:
        return reads
    (read,) = reads
    return reads if read.field else frozenset({Read(read.relation, read.column, field)})


def _query_of(scope: Scope) -> exp.Query:
    if not isinstance(scope.expression, exp.Query):
        raise LineageError(f"not a query: {scope.expression.sql(dialect=DIALECT)[:80]}")
    return scope.expression


def _within(inner: Any, node: exp.Expr) -> bool:
    parent = inner
    while parent is not None:
        if parent is node:
            return True
        parent = parent.parent
    return False


def _relation(table: exp.Table) -> Relation:
    return (table.catalog.lower(), table.db.lower(), table.name.lower())


def schema_of(tables: Mapping[Relation, Iterable[str]]) -> dict[str, object]:
    """The nested mapping sqlglot takes as a schema: database → schema → table → columns."""
    nested: dict[str, Any] = {}
    for (database, schema, table), columns in tables.items():
        nested.setdefault(database, {}).setdefault(schema, {})[table] = {
            c: "unknown" for c in columns
        }
    return nested


def trace(sql: str, tables: Mapping[Relation, Iterable[str]]) -> dict[str, Traced]:
    """Every output column of a compiled SELECT, in order, traced to the tables it reads."""
    try:
        parsed = parse_one(sql, dialect=DIALECT)
        qualified = qualify(
            parsed,
            dialect=DIALECT,
            schema=schema_of(tables),
            validate_qualify_columns=False,
            identify=False,
        )
        root = build_scope(qualified)
    except SqlglotError as exc:
        raise LineageError(str(exc).splitlines()[0]) from exc
    if root is None:
        raise LineageError("the model's SQL is not a query")
    tracer = _Tracer()
    return {name: tracer.column(root, name) for name in _query_of(root).named_selects}
