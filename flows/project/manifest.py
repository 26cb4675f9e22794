"""The dbt project as the pipeline sees it: steps, lake tables, model tables and its card."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flows.errors import ProjectError
from flows.project.code import SUITES_DIR, ProjectCard, StepFiles
from flows.project.deadlines import Deadline, parse_deadline
from flows.project.lake_tables import LakeTable, lake_tables
from flows.project.nodes import models, node_meta
from flows.project.reads import Upstream, reach_of
from flows.project.windows import Window, window_of

RAW_LAYER = "raw"
RAW_SCHEMA = "raw"
QUARANTINE = "quarantine"
# The suffix of the schemas the pipeline builds and checks every gated layer in before it
# publishes to the schema itself (dbt var build_schema_suffix; an analytics engineer's plain
# `dbt build` uses the project's default, `_dev`).
AUDIT_SUFFIX = "_audit"


@dataclass(frozen=True)
class ModelTable:
    """A stored relation of a layer (a table or incremental model, a raw table): where it is
    built, where it is published, and which dates a run of lake days rewrites there."""

    name: str
    layer: str
    database: str
    schema: str
    alias: str
    materialized: str
    partition_column: str | None
    window: Window
    cluster_by: tuple[str, ...] = ()
    published_schema: str = ""
    # Publishing moves the window out of the build copy, which then holds only days in flight:
    # raw tables, which nothing reads there (dbt reads the published raw). On DuckDB both are
    # views of one store of loads (warehouse/duckdb_raw.py): the move copies no row.
    moves: bool = False

    @property
    def published(self) -> tuple[str, str]:
        """(schema, table) where readers find it once its gates passed."""
        return (self.published_schema or self.schema, self.alias)


@dataclass(frozen=True)
class Project:
    """The parsed dbt project and what the pipeline derives from it."""

    manifest: Any
    layers: tuple[str, ...]
    lake_tables: tuple[LakeTable, ...]
    lateness_days: int
    build_suffix: str = ""

    def published_schema(self, schema: str) -> str:
        """The schema a relation built in `schema` is published to (the build suffix removed)."""
        suffix = self.build_suffix
        return schema[: -len(suffix)] if suffix and schema.endswith(suffix) else schema

    def card(self) -> ProjectCard:
        """The steps, the files each one's code version hashes, and the lake tables: raw hashes
        the sources YAML of the lake tables and the raw suites; a dbt layer the folders of its
        models and of the project's macros, and its suites; every step dbt_project.yml."""
        manifest = self.manifest
        own = manifest.metadata.project_name
        macros = [m for m in manifest.macros.values() if m.package_name == own]
        lake = {(t.source, t.name) for t in self.lake_tables}
        sources = [s for s in manifest.sources.values() if (s.source_name, s.name) in lake]
        paths: dict[str, set[str]] = {
            RAW_LAYER: {*(s.original_file_path for s in sources), _suites(RAW_SCHEMA)},
            **{layer: {_folder(m.original_file_path) for m in macros} for layer in self.layers},
        }
        for node in models(manifest):
            layer = node_meta(node).get("layer")
            if layer in self.layers:
                paths[layer] |= {
                    _folder(node.original_file_path),
                    _suites(self.published_schema(node.schema)),
                }
                if node.patch_path:  # "<project>://models/dwh/_dwh__models.yml"
                    paths[layer].add(_folder(node.patch_path.split("://", 1)[-1]))
        return ProjectCard(
            steps=tuple(
                StepFiles(step, tuple(sorted({*paths[step], "dbt_project.yml"})))
                for step in self.steps
            ),
            lake_tables=self.lake_tables,
        )

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
        """The stored relations of one layer, by name: raw's lake tables and quarantine, or a
        dbt layer's tables and incremental models (not its views)."""
        if layer == RAW_LAYER:
            return self._raw_tables()
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
                    published_schema=self.published_schema(node.schema),
                )
            )
        return sorted(found, key=lambda t: t.name)

    def _raw_tables(self) -> list[ModelTable]:
        """Raw: each lake table and the quarantine, landed per lake day (partition dt)."""
        database = next(
            (s.database for s in self.manifest.sources.values() if s.schema == RAW_SCHEMA), ""
        )
        names = [table.name for table in self.lake_tables] + [QUARANTINE]
        return [
            ModelTable(
                name=name,
                layer=RAW_LAYER,
                database=database,
                schema=RAW_SCHEMA + self.build_suffix,
                alias=name,
                materialized="incremental",
                partition_column="dt",
                window=Window(),
                published_schema=RAW_SCHEMA,
                moves=True,
            )
            for name in sorted(names)
        ]

    def upstreams(self, model: str) -> list[Upstream]:
        """What a model reads: each upstream model or lake table, and how far (meta.reads)."""
        node = self._model(model)
        found = []
        for uid in node.depends_on.nodes:
            if uid in self.manifest.sources:
                source = self.manifest.sources[uid]
                reach = reach_of(node, source.name)
                found.append(Upstream(RAW_LAYER, source.name, "source", reach))
            elif uid in self.manifest.nodes and self.manifest.nodes[uid].resource_type == "model":
                parent = self.manifest.nodes[uid]
                layer = str(node_meta(parent).get("layer") or "")
                kind = str(parent.config.materialized)
                found.append(Upstream(layer, parent.name, kind, reach_of(node, parent.name)))
        return sorted(found, key=lambda u: (u.layer, u.name))

    def tests_of(self, model: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        """The model's generic data tests: (test name, column or None, its other arguments)."""
        uid = self._model(model).unique_id
        found = []
        for node in self.manifest.nodes.values():
            metadata = getattr(node, "test_metadata", None)
            if node.resource_type != "test" or metadata is None:
                continue
            if getattr(node, "attached_node", None) != uid:
                continue
            kwargs = {k: v for k, v in metadata.kwargs.items() if k != "model"}
            column = kwargs.pop("column_name", None) or getattr(node, "column_name", None)
            found.append((str(metadata.name), column, kwargs))
        return sorted(found, key=lambda t: (t[0], t[1] or "", repr(t[2])))

    def meta_of(self, model: str) -> dict[str, Any]:
        """The model's meta (YAML and config merged)."""
        return node_meta(self._model(model))

    def columns_of(self, model: str) -> list[str]:
        """The columns the model's YAML declares."""
        return list(self._model(model).columns)

    def window(self, model: str) -> Window:
        """The window of a model (by name), from its meta."""
        return window_of(f"model {model}", node_meta(self._model(model)))

    def _model(self, name: str) -> Any:
        for node in models(self.manifest):
            if node.name == name:
                return node
        raise ProjectError(f"no model named {name!r} in the dbt project")


def _folder(path: str) -> str:
    """The folder of a project file (relative, POSIX)."""
    return Path(path).parent.as_posix()


def _suites(schema: str) -> str:
    """The folder of a schema's expectation suites (relative, POSIX)."""
    return (SUITES_DIR / schema).as_posix()


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


def build_project(manifest: Any, project_dir: Path, build_suffix: str = "") -> Project:
    """Derive the pipeline's view of the project from a parsed manifest (parsed with
    build_schema_suffix = build_suffix)."""
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
        build_suffix=build_suffix,
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
