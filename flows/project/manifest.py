"""The dbt project as the pipeline sees it: steps, lake tables, model tables and code versions."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flows.errors import ProjectError
from flows.project.deadlines import Deadline, parse_deadline
from flows.project.lake_tables import LakeTable, lake_tables
from flows.project.nodes import models, node_meta
from flows.project.windows import Window, window_of

RAW_LAYER = "raw"


@dataclass(frozen=True)
class ModelTable:
    """A stored model (table or incremental, not a view): where, and which dates a run writes."""

    name: str
    layer: str
    database: str
    schema: str
    alias: str
    materialized: str
    partition_column: str | None
    window: Window
    cluster_by: tuple[str, ...] = ()


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
                f"{node.unique_id}:{node.checksum.checksum}"
                for node in models(self.manifest)
                if node_meta(node).get("layer") == layer
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
        for node in models(self.manifest):
            meta = node_meta(node)
            spec = (meta.get("sluice") or {}).get("deadline")
            if spec and meta.get("layer"):
                found.append(parse_deadline(meta["layer"], node.name, spec))
        for source in self.manifest.sources.values():
            sluice = node_meta(source).get("sluice") or {}
            spec = sluice.get("deadline")
            if sluice.get("lake_path") and spec:
                what = f"{source.source_name}.{source.name}"
                found.append(parse_deadline(RAW_LAYER, what, spec))
        return sorted(found, key=lambda d: (d.layer, d.what))

    def models_in(self, layer: str) -> list[str]:
        """Names of the models of one layer."""
        return sorted(n.name for n in models(self.manifest) if node_meta(n).get("layer") == layer)

    def tables(self, layer: str) -> list[ModelTable]:
        """The stored models (tables, incremental models) of one layer, by name."""
        found = []
        for node in models(self.manifest):
            meta = node_meta(node)
            if meta.get("layer") != layer or node.config.materialized in ("view", "ephemeral"):
                continue
            cluster = node.config.get("cluster_by") or ()
            found.append(
                ModelTable(
                    name=node.name,
                    layer=layer,
                    database=node.database,
                    schema=node.schema,
                    alias=node.alias,
                    materialized=node.config.materialized,
                    partition_column=node.config.event_time or None,
                    window=window_of(f"model {node.name}", meta),
                    cluster_by=(cluster,) if isinstance(cluster, str) else tuple(cluster),
                )
            )
        return sorted(found, key=lambda t: t.name)

    def window(self, model: str) -> Window:
        """The window of a model (by name), from its meta."""
        for node in models(self.manifest):
            if node.name == model:
                return window_of(f"model {model}", node_meta(node))
        raise ProjectError(f"no model named {model!r} in the dbt project")


def ordered_layers(manifest: Any) -> tuple[str, ...]:
    """Layer names (model meta `layer`), ordered so every layer follows the layers it reads."""
    layer_of = {
        n.unique_id: node_meta(n)["layer"] for n in models(manifest) if node_meta(n).get("layer")
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
