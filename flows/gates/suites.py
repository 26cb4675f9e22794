"""Expectation suites as code: load expectations/<schema>/<table>.json and find what each checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.errors import ProjectError
from flows.project.identifiers import database_name, identifier
from flows.project.manifest import RAW_LAYER, Project
from flows.project.nodes import models, node_meta
from flows.project.windows import Window, window_of

SUITES_DIR = Path("expectations") / "expectations"


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
        """Database, schema (optionally suffixed: the marts audit copy) and table, validated."""
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
        found[(node.schema, node.alias)] = _Table(
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


def load_suites(project: Project, project_dir: Path) -> tuple[Suite, ...]:
    """Every suite of the project, each matched to its table in the dbt manifest."""
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
        found = relations[(schema, table)]
        column = found.partition_column
        if not column:
            raise ProjectError(f"suite {path}: {schema}.{table} declares no event_time column")
        key = tuple(doc.get("meta", {}).get("sluice", {}).get("key", ()))
        _check_scopes(path, doc["expectations"])
        suites.append(
            Suite(
                name=doc["name"],
                layer=found.layer,
                database=found.database,
                schema=schema,
                table=table,
                partition_column=identifier(column, f"event_time of {schema}.{table}"),
                window=found.window,
                key=tuple(identifier(k, f"key of {path}") for k in key),
                expectations=tuple(doc["expectations"]),
                path=path,
            )
        )
    return tuple(suites)


def ref_relations(project: Project) -> dict[str, str]:
    """`{ref:<model>}` placeholders of unexpected-rows queries -> the models' relations."""
    return {
        f"{{ref:{node.name}}}": node.relation_name
        for node in models(project.manifest)
        if node.relation_name
    }
