"""Compute the column lineage: compile the project with portable JSON, trace each model in order.

The DuckDB form of `json_texts` (unnest(json_transform(...))) hides which payload field feeds
which column, so lineage compiles with var `portable_json`: one `payload ->> 'field'` per field,
which the tracer follows to the lake field declared in the source YAML. Compiling uses an empty
DuckDB file of its own (no model is incremental there, so no run window is rendered) and never
opens the warehouse.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flows.errors import ProjectError
from flows.project.lineage import (
    FILE_NAME,
    ColumnLineage,
    ColumnRef,
    Exposure,
    Lineage,
    ModelLineage,
    Source,
)
from flows.project.lineage_sql import LineageError, Read, Relation, trace

# The published schemas' names (marts, not marts_dev): lineage speaks of what readers query.
LINEAGE_VARS = {"portable_json": True, "run_start": "1970-01-01", "build_schema_suffix": ""}
WORK_DIR = "lineage"  # under the target folder: dbt's target path and the empty DuckDB file
_CODE = (Path(__file__).parent / "lineage_sql.py", Path(__file__).parent / "lineage_build.py")


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Env vars set for a block, then restored (in-process dbt reads its profile vars there)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def compile_models(project_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Compile every model for lineage (in-process dbt); the manifest JSON with compiled SQL."""
    from dbt.cli.main import dbtRunner  # seconds to import: only when lineage is recomputed

    target = work_dir / "target"
    env = {
        "SLUICE_DUCKDB": str(work_dir / "lineage.duckdb"),
        "SLUICE_TARGET": "dev",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    work_dir.mkdir(parents=True, exist_ok=True)
    args = ["compile", "--quiet", "--no-use-colors", "--project-dir", str(project_dir)]
    args += ["--profiles-dir", str(project_dir), "--target", "dev", "--target-path", str(target)]
    args += ["--select", "resource_type:model", "--vars", json.dumps(LINEAGE_VARS)]
    with environment(env):
        result = dbtRunner().invoke(args)
    if not result.success:
        raise ProjectError(
            f"dbt compile for column lineage failed in {project_dir}: {result.exception}"
        )
    manifest: dict[str, Any] = json.loads((target / "manifest.json").read_text())
    return manifest


def _relation(node: Mapping[str, Any], name_key: str) -> Relation:
    return (str(node["database"]).lower(), str(node["schema"]).lower(), str(node[name_key]).lower())


def _meta(node: Mapping[str, Any]) -> dict[str, Any]:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def _models_in_order(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    ordered: list[dict[str, Any]] = []
    done: set[str] = set()

    def visit(uid: str, path: tuple[str, ...]) -> None:
        if uid in done or uid not in models or uid in path:
            return
        for parent in models[uid]["depends_on"]["nodes"]:
            visit(parent, (*path, uid))
        done.add(uid)
        ordered.append(models[uid])

    for uid in sorted(models):
        visit(uid, ())
    return ordered


def build_lineage(
    manifest: Mapping[str, Any],
    catalog: Mapping[str, Any] | None = None,
    fingerprint: str = "",
) -> Lineage:
    """Trace every compiled model; source columns come from the YAML (else the catalog)."""
    known = (catalog or {}).get("sources", {})
    tables: dict[Relation, list[str]] = {}
    nodes: dict[Relation, str] = {}
    sources: dict[str, Source] = {}
    for uid, node in sorted(manifest["sources"].items()):
        relation = _relation(node, "identifier")
        columns = list(node["columns"]) or [
            c.lower() for c in known.get(uid, {}).get("columns", {})
        ]
        tables[relation], nodes[relation] = columns, uid
        fields = tuple((_meta(node).get("sluice") or {}).get("fields") or {})
        sources[uid] = Source(
            uid, f"{node['source_name']}.{node['name']}", ".".join(relation[1:]), fields
        )

    def refs(reads: frozenset[Read]) -> tuple[ColumnRef, ...]:
        return tuple(
            sorted(
                ColumnRef(nodes.get(r.relation, ".".join(r.relation)), r.column, r.field)
                for r in reads
            )
        )

    models: dict[str, ModelLineage] = {}
    for node in _models_in_order(manifest):
        uid, relation = node["unique_id"], _relation(node, "alias")
        name = f"{node['schema']}.{node['alias']}"
        nodes[relation] = uid
        try:
            traced = trace(node.get("compiled_code") or "", tables)
        except LineageError as exc:
            tables[relation] = list(node["columns"])
            models[uid] = ModelLineage(uid, name, (), f"{node['original_file_path']}: {exc}")
            continue
        tables[relation] = list(traced)
        traced_columns = tuple(
            ColumnLineage(c, refs(t.values), refs(t.filters), t.expression, t.rows, t.complete)
            for c, t in traced.items()
        )
        models[uid] = ModelLineage(uid, name, traced_columns)
    exposures = {
        uid: Exposure(
            uid,
            e["name"],
            e.get("label") or e["name"],
            (e.get("owner") or {}).get("name") or "",
            tuple(e["depends_on"]["nodes"]),
        )
        for uid, e in sorted(manifest.get("exposures", {}).items())
    }
    return Lineage(models, sources, exposures, fingerprint)


def project_fingerprint(project_dir: Path) -> str:
    """A digest of what lineage depends on: models, macros, dbt_project.yml and this code."""
    digest = hashlib.sha256(version("sqlglot").encode())
    files = [project_dir / "dbt_project.yml", *_CODE]
    for folder in ("models", "macros"):
        files += sorted(p for p in (project_dir / folder).rglob("*") if p.is_file())
    for path in files:
        digest.update(
            str(
                path.relative_to(project_dir) if path.is_relative_to(project_dir) else path.name
            ).encode()
        )
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def project_lineage(project_dir: Path, target_dir: Path, *, refresh: bool = False) -> Lineage:
    """The project's lineage from target_dir/lineage.json, recomputed when the project changed."""
    path = target_dir / FILE_NAME
    fingerprint = project_fingerprint(project_dir)
    if path.exists() and not refresh:
        try:
            cached = Lineage.load(path)
        except ProjectError:
            cached = None
        if cached and cached.fingerprint == fingerprint:
            return cached
    manifest = compile_models(project_dir, target_dir / WORK_DIR)
    catalog_path = target_dir / "catalog.json"
    catalog = json.loads(catalog_path.read_text()) if catalog_path.exists() else None
    lineage = build_lineage(manifest, catalog, fingerprint)
    lineage.save(path)
    return lineage
