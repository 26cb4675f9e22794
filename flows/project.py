"""The dbt project as Sluice sees it: layers, lake tables and windows, read from the manifest."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from flows.errors import ProjectError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")
FORMATS = ("jsonl", "csv", "parquet")
RAW_LAYER = "raw"


def identifier(value: str, what: str) -> str:
    """Return value if it is a safe lowercase SQL identifier, else raise naming it."""
    if not _IDENTIFIER.match(value):
        raise ProjectError(f"{what} {value!r} is not a lowercase identifier ([a-z_][a-z0-9_]*)")
    return value


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


@dataclass(frozen=True)
class Deadline:
    """When a layer's models or a lake table must be ready: meta `sluice.deadline: "HH:MM Zone"`.

    Partition D is due at the first HH:MM (local time of Zone) after UTC day D has ended.
    """

    layer: str
    what: str
    spec: str
    at: time
    zone: ZoneInfo

    def due(self, day: date) -> datetime:
        """The moment (UTC) partition `day` must be ready."""
        closed = datetime.combine(day + timedelta(days=1), time(), UTC).astimezone(self.zone)
        moment = datetime.combine(closed.date(), self.at, self.zone)
        if moment < closed:
            moment = datetime.combine(closed.date() + timedelta(days=1), self.at, self.zone)
        return moment.astimezone(UTC)


def parse_deadline(layer: str, what: str, spec: object) -> Deadline:
    """A Deadline from its meta text, or a ProjectError naming the model or source."""
    try:
        clock, zone = str(spec).split()
        return Deadline(layer, what, str(spec), time.fromisoformat(clock), ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ProjectError(
            f"{what}: meta sluice.deadline {spec!r} must be 'HH:MM Area/City'"
            f" (e.g. '12:00 Asia/Tokyo'): {exc}"
        ) from exc


@dataclass(frozen=True)
class Project:
    """The parsed dbt project and what the pipeline derives from it."""

    manifest: Any
    layers: tuple[str, ...]
    lake_tables: tuple[LakeTable, ...]
    lateness_days: int

    def code_version(self, layer: str) -> str:
        """A digest of the code a layer runs: its models and macros (for raw: the lake specs)."""
        if layer == RAW_LAYER:
            parts = [repr(table) for table in self.lake_tables]
        else:
            parts = [
                f"{uid}:{node.checksum.checksum}"
                for uid, node in sorted(self.manifest.nodes.items())
                if node.resource_type == "model" and _meta(node).get("layer") == layer
            ]
            parts += [
                f"{uid}:{hashlib.sha256(macro.macro_sql.encode()).hexdigest()}"
                for uid, macro in sorted(self.manifest.macros.items())
                if macro.package_name == self.manifest.metadata.project_name
            ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    @property
    def steps(self) -> tuple[str, ...]:
        """Every step of a partition in order: landing (raw), then each dbt layer."""
        return (RAW_LAYER, *self.layers)

    def deadlines(self) -> list[Deadline]:
        """Deadlines declared in the project, per model (its layer) and per lake table (raw)."""
        found = []
        for node in self.manifest.nodes.values():
            meta = _meta(node)
            spec = (meta.get("sluice") or {}).get("deadline")
            if node.resource_type == "model" and spec and meta.get("layer"):
                found.append(parse_deadline(meta["layer"], node.name, spec))
        for source in self.manifest.sources.values():
            sluice = _meta(source).get("sluice") or {}
            spec = sluice.get("deadline")
            if sluice.get("lake_path") and spec:
                what = f"{source.source_name}.{source.name}"
                found.append(parse_deadline(RAW_LAYER, what, spec))
        return sorted(found, key=lambda d: (d.layer, d.what))

    def models_in(self, layer: str) -> list[str]:
        """Names of the models of one layer."""
        return sorted(
            node.name
            for node in self.manifest.nodes.values()
            if node.resource_type == "model" and _meta(node).get("layer") == layer
        )


def _meta(node: Any) -> dict[str, Any]:
    meta = dict(getattr(node, "meta", None) or {})
    meta.update(getattr(getattr(node, "config", None), "meta", None) or {})
    return meta


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
        spec = _meta(source).get("sluice")
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


def ordered_layers(manifest: Any) -> tuple[str, ...]:
    """Layer names (model meta `layer`), ordered so every layer follows the layers it reads."""
    layer_of = {
        uid: _meta(node)["layer"]
        for uid, node in manifest.nodes.items()
        if node.resource_type == "model" and _meta(node).get("layer")
    }
    needs: dict[str, set[str]] = {layer: set() for layer in layer_of.values()}
    for uid, layer in layer_of.items():
        for parent in manifest.nodes[uid].depends_on.nodes:
            parent_layer = layer_of.get(parent)
            if parent_layer and parent_layer != layer:
                needs[layer].add(parent_layer)
    ordered: list[str] = []
    while needs:
        ready = sorted(layer for layer, deps in needs.items() if deps <= set(ordered))
        if not ready:
            raise ProjectError(f"layers depend on each other in a cycle: {sorted(needs)}")
        ordered.extend(ready)
        for layer in ready:
            del needs[layer]
    return tuple(ordered)


def project_vars(project_dir: Path) -> dict[str, Any]:
    """The `vars:` block of dbt_project.yml."""
    with (project_dir / "dbt_project.yml").open() as handle:
        config = yaml.safe_load(handle) or {}
    return dict(config.get("vars") or {})


def build_project(manifest: Any, project_dir: Path) -> Project:
    """Derive the pipeline's view of the project from a parsed manifest."""
    lateness = project_vars(project_dir).get("lateness_days")
    if not isinstance(lateness, int) or lateness < 0:
        raise ProjectError(
            f"dbt_project.yml var lateness_days must be an integer >= 0, got {lateness!r}"
        )
    return Project(
        manifest=manifest,
        layers=ordered_layers(manifest),
        lake_tables=lake_tables(manifest),
        lateness_days=lateness,
    )


def git_sha(project_dir: Path) -> str | None:
    """The commit the project is at, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def digest(value: object) -> str:
    """A short stable digest of a JSON-serialisable value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
