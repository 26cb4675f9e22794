"""Lake tables: dbt sources that declare `meta.sluice` (where the files are, how to check them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.errors import ProjectError
from flows.project.identifiers import identifier
from flows.project.nodes import node_meta

FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")
FORMATS = ("jsonl", "csv", "parquet")


@dataclass(frozen=True)
class FieldRule:
    """How landing checks one field of a lake record."""

    name: str
    type: str
    required_for: tuple[str, ...] | None  # None: optional; () : always required
    accepted: tuple[str, ...] = ()


@dataclass(frozen=True)
class LakeTable:
    """A raw table and the lake files it is landed from (a dbt source with `meta.sluice`)."""

    name: str
    source: str
    lake_path: str
    format: str
    fields: tuple[FieldRule, ...]
    event_date_field: str | None = None
    type_field: str | None = None


def _field_rule(table: str, name: str, spec: dict[str, Any]) -> FieldRule:
    identifier(name, f"field of {table}")
    kind = spec.get("type", "string")
    if kind not in FIELD_TYPES:
        raise ProjectError(f"field {table}.{name}: type {kind!r} is not one of {FIELD_TYPES}")
    required: Any = spec.get("required")
    required_for: tuple[str, ...] | None
    if required is None or required is False or required == []:
        required_for = None
    elif required in ("always", True):
        required_for = ()
    elif isinstance(required, list):
        required_for = tuple(str(v) for v in required)
    else:
        raise ProjectError(f"field {table}.{name}: required must be always or a list of types")
    accepted = tuple(str(v) for v in spec.get("accepted", ()))
    return FieldRule(name, kind, required_for, accepted)


def lake_tables(manifest: Any) -> tuple[LakeTable, ...]:
    """Every source table that declares `meta.sluice.lake_path`, sorted by name."""
    tables = []
    for source in manifest.sources.values():
        spec = node_meta(source).get("sluice")
        if not spec:
            continue
        name = identifier(source.name, "source table")
        fmt = spec.get("format")
        if fmt not in FORMATS:
            raise ProjectError(f"source table {name}: format {fmt!r} is not one of {FORMATS}")
        fields = tuple(_field_rule(name, f, s or {}) for f, s in (spec.get("fields") or {}).items())
        names = {f.name for f in fields}
        for key in ("event_date_field", "type_field"):
            if spec.get(key) and spec[key] not in names:
                raise ProjectError(f"source table {name}: {key} {spec[key]!r} is not a field")
        tables.append(
            LakeTable(
                name=name,
                source=source.source_name,
                lake_path=str(spec.get("lake_path", "")),
                format=fmt,
                fields=fields,
                event_date_field=spec.get("event_date_field"),
                type_field=spec.get("type_field"),
            )
        )
    if not tables:
        raise ProjectError("no source declares meta.sluice.lake_path: nothing to land")
    return tuple(sorted(tables, key=lambda t: t.name))
