"""Column lineage of the project: each model column's upstream columns by role, down to lake fields.

Records and questions only; `lineage_build.py` computes it from the compiled project and
`lineage_docs.py` puts it into the dbt docs. A *value* source feeds a column's value (a CASE
condition included); a *filter* source only decides which rows exist (WHERE, JOIN, GROUP BY,
QUALIFY, DISTINCT). Along a chain, a column is a value source only if every hop is one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from flows.errors import InvalidParameter, ProjectError

VERSION = 1
FILE_NAME = "lineage.json"


class Role(StrEnum):
    VALUE = "value"
    FILTER = "filter"

    def then(self, other: Role) -> Role:
        """The role of a source two hops away: value only if both hops are."""
        return Role.VALUE if self is Role.VALUE and other is Role.VALUE else Role.FILTER


@dataclass(frozen=True, order=True)
class ColumnRef:
    """A column of a model or source; for a lake payload, the field read from it."""

    node: str
    column: str
    field: str | None = None

    def as_json(self) -> list[str | None]:
        return [self.node, self.column, self.field]


@dataclass(frozen=True)
class ColumnLineage:
    """One model column: its direct sources by role, and fingerprints of how it is computed."""

    column: str
    values: tuple[ColumnRef, ...]
    filters: tuple[ColumnRef, ...]
    expression: str
    rows: str
    complete: bool

    def sources(self) -> Iterator[tuple[ColumnRef, Role]]:
        for ref in self.values:
            yield ref, Role.VALUE
        for ref in self.filters:
            if ref not in self.values:
                yield ref, Role.FILTER


@dataclass(frozen=True)
class ModelLineage:
    """Every column of one model, in order; `error` when its SQL could not be traced."""

    node: str
    name: str
    columns: tuple[ColumnLineage, ...]
    error: str | None = None

    def column(self, name: str) -> ColumnLineage | None:
        return next((c for c in self.columns if c.column == name), None)


@dataclass(frozen=True)
class Source:
    """A source table: its display name, and its lake fields (source YAML meta.sluice.fields)."""

    node: str
    name: str
    relation: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Exposure:
    node: str
    name: str
    label: str
    owner: str
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Reach:
    """A column reached from another, with the role of the whole chain and its length."""

    ref: ColumnRef
    role: Role
    hops: int


@dataclass(frozen=True)
class Lineage:
    """The column lineage of every model of one compiled project."""

    models: dict[str, ModelLineage]
    sources: dict[str, Source]
    exposures: dict[str, Exposure] = field(default_factory=dict)
    fingerprint: str = ""

    def name(self, ref: ColumnRef) -> str:
        """`marts.daily_kpis.ctr`; a lake field `app.events.event_type`; raw `raw.events.dt`."""
        if ref.node in self.sources:
            source = self.sources[ref.node]
            if self.is_lake_field(ref):
                return f"{source.name}.{ref.field}"
            path = f" ->> '{ref.field}'" if ref.field else ""
            return f"{source.relation}.{ref.column}{path}"
        model = self.models.get(ref.node)
        return f"{model.name if model else ref.node}.{ref.column}"

    def is_lake_field(self, ref: ColumnRef) -> bool:
        source = self.sources.get(ref.node)
        return bool(source and ref.field and ref.field in source.fields)

    def find(self, text: str) -> ColumnRef:
        """The column `<schema>.<model>.<column>` (or `<model>.<column>`); InvalidParameter
        naming it and its close matches when there is none."""
        known = {
            f"{model.name}.{column.column}": ColumnRef(uid, column.column)
            for uid, model in self.models.items()
            for column in model.columns
        }
        short = {name.split(".", 1)[1]: ref for name, ref in known.items()}
        found = known.get(text) or short.get(text)
        if found:
            return found
        candidates = known if text.count(".") >= 2 else short
        close = [
            next(n for n, r in known.items() if r == candidates[c])
            for c in difflib.get_close_matches(text, list(candidates), n=5, cutoff=0.6)
        ]
        models = {m.name for m in self.models.values()}
        what = "model" if ".".join(text.split(".")[:-1]) not in models else "column"
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise InvalidParameter(
            f"no {what} for {text!r} in the project's column lineage "
            f"(expected <schema>.<model>.<column>, e.g. marts.daily_kpis.ctr){hint}"
        )

    def direct(self, ref: ColumnRef) -> list[tuple[ColumnRef, Role]]:
        model = self.models.get(ref.node)
        column = model.column(ref.column) if model else None
        return list(column.sources()) if column else []

    def upstream(self, ref: ColumnRef) -> list[Reach]:
        """Every column the given one is computed from, nearest first; value wins over filter."""
        return self._walk(ref, self.direct)

    def downstream(self, ref: ColumnRef) -> list[Reach]:
        """Every model column computed from the given one, nearest first."""
        readers: dict[ColumnRef, list[tuple[ColumnRef, Role]]] = {}
        for uid, model in self.models.items():
            for column in model.columns:
                for source, role in column.sources():
                    key = ColumnRef(source.node, source.column)
                    readers.setdefault(key, []).append((ColumnRef(uid, column.column), role))
        return self._walk(ref, lambda r: readers.get(ColumnRef(r.node, r.column), []))

    @staticmethod
    def _walk(start: ColumnRef, step: Any) -> list[Reach]:
        best: dict[ColumnRef, Reach] = {}
        frontier = [(start, Role.VALUE, 0)]
        while frontier:
            ref, role, hops = frontier.pop(0)
            for nxt, how in step(ref):
                reach = Reach(nxt, role.then(how), hops + 1)
                seen = best.get(nxt)
                if seen and (seen.role is Role.VALUE or reach.role is Role.FILTER):
                    continue
                best[nxt] = reach
                frontier.append((nxt, reach.role, reach.hops))
        return sorted(best.values(), key=lambda r: (r.role is not Role.VALUE, r.hops, r.ref))

    def exposures_of(self, nodes: set[str]) -> list[Exposure]:
        return [e for e in self.exposures.values() if nodes & set(e.depends_on)]

    def as_json(self) -> dict[str, Any]:
        def refs(items: tuple[ColumnRef, ...]) -> list[list[str | None]]:
            return [r.as_json() for r in items]

        return {
            "version": VERSION,
            "fingerprint": self.fingerprint,
            "models": {
                uid: {
                    "name": m.name,
                    "error": m.error,
                    "columns": {
                        c.column: {
                            "values": refs(c.values),
                            "filters": refs(c.filters),
                            "expression": c.expression,
                            "rows": c.rows,
                            "complete": c.complete,
                        }
                        for c in m.columns
                    },
                }
                for uid, m in sorted(self.models.items())
            },
            "sources": {
                uid: s.__dict__ | {"fields": list(s.fields)} for uid, s in self.sources.items()
            },
            "exposures": {
                uid: e.__dict__ | {"depends_on": list(e.depends_on)}
                for uid, e in self.exposures.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lineage:
        def refs(items: list[list[str | None]]) -> tuple[ColumnRef, ...]:
            return tuple(ColumnRef(str(n), str(c), f) for n, c, f in items)

        models = {
            uid: ModelLineage(
                uid,
                m["name"],
                tuple(
                    ColumnLineage(
                        name,
                        refs(c["values"]),
                        refs(c["filters"]),
                        c["expression"],
                        c["rows"],
                        c["complete"],
                    )
                    for name, c in m["columns"].items()
                ),
                m["error"],
            )
            for uid, m in data["models"].items()
        }
        sources = {
            uid: Source(s["node"], s["name"], s["relation"], tuple(s["fields"]))
            for uid, s in data["sources"].items()
        }
        exposures = {
            uid: Exposure(e["node"], e["name"], e["label"], e["owner"], tuple(e["depends_on"]))
            for uid, e in data.get("exposures", {}).items()
        }
        return cls(models, sources, exposures, data.get("fingerprint", ""))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> Lineage:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ProjectError(f"cannot read the column lineage {path}: {exc}") from exc
        if data.get("version") != VERSION:
            raise ProjectError(f"{path} is lineage version {data.get('version')}, not {VERSION}")
        return cls.from_json(data)
