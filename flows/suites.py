"""Expectation suites as code: load expectations/<schema>/<table>.json and find what each checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.errors import ProjectError
from flows.project import RAW_LAYER, Project, identifier

SUITES_DIR = Path("expectations") / "expectations"


@dataclass(frozen=True)
class Suite:
    """One suite and the table partition it validates."""

    name: str
    layer: str
    database: str
    schema: str
    table: str
    partition_column: str
    key: tuple[str, ...]
    expectations: tuple[dict[str, Any], ...]
    path: Path

    def relation(self, schema_suffix: str = "") -> str:
        """The quoted relation, optionally in a suffixed schema (the marts audit copy)."""
        parts = [self.database, self.schema + schema_suffix, self.table]
        return ".".join(f'"{identifier(part, "relation part")}"' for part in parts if part)


def _nodes_by_relation(project: Project) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(schema, table) -> (layer, database, partition column), from sources and models."""
    found: dict[tuple[str, str], tuple[str, str, str]] = {}
    manifest = project.manifest
    for source in manifest.sources.values():
        column = getattr(source.config, "event_time", None)
        found[(source.schema, source.identifier)] = (RAW_LAYER, source.database, column or "")
    for node in manifest.nodes.values():
        if node.resource_type == "model":
            layer = (node.config.meta or {}).get("layer", "")
            found[(node.schema, node.alias)] = (layer, node.database, node.config.event_time or "")
    return found


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
        layer, database, column = relations[(schema, table)]
        if not column:
            raise ProjectError(f"suite {path}: {schema}.{table} declares no event_time column")
        key = tuple(doc.get("meta", {}).get("sluice", {}).get("key", ()))
        suites.append(
            Suite(
                name=doc["name"],
                layer=layer,
                database=database,
                schema=schema,
                table=table,
                partition_column=identifier(column, f"event_time of {schema}.{table}"),
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
        for node in project.manifest.nodes.values()
        if node.resource_type == "model" and node.relation_name
    }
