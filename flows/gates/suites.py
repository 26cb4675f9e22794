"""Expectation suites as code: load expectations/<schema>/<table>.json and find what each checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.errors import ProjectError
from flows.gates.defaults import default_suite
from flows.project.code import SUITES_DIR
from flows.project.identifiers import database_name, identifier
from flows.project.manifest import QUARANTINE, RAW_LAYER, Project
from flows.project.nodes import models, node_meta
from flows.project.windows import Window, window_of


@dataclass(frozen=True)
class Suite:
    """One suite, its table, and the window of dates a step of one lake day rewrites there."""

    name: str
    layer: str
    database: str
    schema: str
    table: str
    partition_column: str
    window: Window
    key: tuple[str, ...]
    expectations: tuple[dict[str, Any], ...]
    path: Path

    def scoped(self, scope: str) -> list[dict[str, Any]]:
        """The expectations about the partition alone, or about the whole rebuilt window."""
        return [
            e
            for e in self.expectations
            if ((e.get("meta") or {}).get("sluice") or {}).get("scope", "window") == scope
        ]

    def relation_parts(self, schema_suffix: str = "") -> tuple[str, ...]:
        """Database, schema (suffixed: the audit copy a step is checked in) and table, validated."""
        schema = identifier(self.schema + schema_suffix, "schema")
        table = identifier(self.table, "table")
        return (database_name(self.database), schema, table) if self.database else (schema, table)


@dataclass(frozen=True)
class _Table:
    layer: str
    database: str
    partition_column: str
    window: Window


def _nodes_by_relation(project: Project) -> dict[tuple[str, str], _Table]:
    """(schema, table) -> what a suite needs of it, from the manifest's sources and models."""
    found: dict[tuple[str, str], _Table] = {}
    manifest = project.manifest
    for source in manifest.sources.values():
        column = getattr(source.config, "event_time", None) or ""
        found[(source.schema, source.identifier)] = _Table(
            RAW_LAYER, source.database, column, Window()
        )
    for node in models(manifest):
        meta = node_meta(node)
        found[(project.published_schema(node.schema), node.alias)] = _Table(
            meta.get("layer", ""),
            node.database,
            node.config.event_time or "",
            window_of(f"model {node.name}", meta),
        )
    return found


def _check_scopes(path: Path, expectations: list[dict[str, Any]]) -> None:
    """Expectations about the partition itself (volume, freshness) must say so."""
    for number, config in enumerate(expectations, 1):
        sluice = (config.get("meta") or {}).get("sluice") or {}
        scope = sluice.get("scope", "window")
        if scope not in ("window", "partition"):
            raise ProjectError(
                f"suite {path}, expectation {number}: scope {scope!r} is not "
                "'window' or 'partition'"
            )
        if ("volume" in sluice or "fresh_after_hours" in sluice) and scope != "partition":
            raise ProjectError(
                f"suite {path}, expectation {number}: a volume or freshness "
                "rule is about the partition: set meta.sluice.scope: partition"
            )


def _suite(doc: dict[str, Any], origin: Path, found: _Table, schema: str, table: str) -> Suite:
    """A suite document matched to its table (a file's, or a default one)."""
    key = tuple(doc.get("meta", {}).get("sluice", {}).get("key", ()))
    _check_scopes(origin, doc["expectations"])
    column = found.partition_column
    partitioned = any(
        ((e.get("meta") or {}).get("sluice") or {}).get("scope") == "partition"
        for e in doc["expectations"]
    )
    if partitioned and not column:
        raise ProjectError(f"suite {origin}: {schema}.{table} declares no event_time column")
    return Suite(
        name=f"{schema}.{table}",
        layer=found.layer,
        database=found.database,
        schema=schema,
        table=table,
        partition_column=identifier(column, f"event_time of {schema}.{table}") if column else "",
        window=found.window,
        key=tuple(identifier(k, f"key of {origin}") for k in key),
        expectations=tuple(doc["expectations"]),
        path=origin,
    )


def load_suites(project: Project, project_dir: Path) -> tuple[tuple[Suite, ...], dict[str, str]]:
    """Every suite of the project, each matched to its table in the dbt manifest, with a
    default suite for each published model table without a file (flows/gates/defaults.py);
    and the published tables that have neither (name -> what to do), which are not published.
    """
    relations = _nodes_by_relation(project)
    folder = project_dir / SUITES_DIR
    if not folder.is_dir():
        raise ProjectError(f"no expectation suites at {folder}: the quality gates need them")
    suites = []
    for path in sorted((project_dir / SUITES_DIR).glob("*/*.json")):
        doc = json.loads(path.read_text())
        schema, table = path.parent.name, path.stem
        if doc.get("name") != f"{schema}.{table}":
            raise ProjectError(
                f"suite {path} must be named {schema}.{table}, not {doc.get('name')}"
            )
        if (schema, table) not in relations:
            raise ProjectError(f"suite {path}: no dbt source or model is {schema}.{table}")
        suites.append(_suite(doc, path, relations[(schema, table)], schema, table))
    covered = {(s.schema, s.table) for s in suites}
    unsuited: dict[str, str] = {}
    for layer in project.steps:
        for stored in project.tables(layer):
            schema = stored.published[0]
            if (schema, stored.alias) in covered or stored.name == QUARANTINE:
                continue
            doc = default_suite(project, stored) if layer != RAW_LAYER else None
            origin = folder / schema / f"{stored.alias}.json"
            if doc is None:
                unsuited[stored.name] = (
                    f"{schema}.{stored.alias} has no suite and declares no key: add a unique or "
                    f"unique_combination test to its YAML (a default suite is derived from its "
                    f"tests), or write {origin.relative_to(project_dir)}"
                )
                continue
            found = relations[(schema, stored.alias)]
            suites.append(_suite(doc, origin, found, schema, stored.alias))
    return tuple(suites), unsuited


def ref_relations(project: Project) -> dict[str, str]:
    """`{ref:<model>}` placeholders of unexpected-rows queries -> the models' relations."""
    return {
        f"{{ref:{node.name}}}": node.relation_name
        for node in models(project.manifest)
        if node.relation_name
    }
