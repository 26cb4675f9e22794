"""Description coverage: every model, column, source, macro and exposure has a description.

Reads dbt's target/manifest.json (and, when given, target/catalog.json, which also reveals
warehouse columns that no YAML declares). `python -m flows.docs_check` lists each missing
description with the file it belongs in and exits 1; `make lint` runs it after `dbt parse`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.errors import ProjectError, SluiceError

# Resource types of manifest["nodes"] that stakeholders browse (tests and unit tests are not).
DOCUMENTED_NODES = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class Missing:
    """One resource (or column, or argument) without a description, and where to write it."""

    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what} has no description"


def _described(entry: Mapping[str, Any], key: str = "description") -> bool:
    return bool(str(entry.get(key) or "").strip())


def _yaml_path(entry: Mapping[str, Any]) -> str:
    """The YAML file that documents a resource, else the file that defines it."""
    patch = str(entry.get("patch_path") or "")
    if patch:
        return patch.split("://", 1)[-1]
    return str(entry.get("original_file_path") or entry.get("path") or "?")


def _columns(
    kind: str, name: str, path: str, declared: Mapping[str, Any], warehouse: Sequence[str]
) -> Iterator[Missing]:
    for column, spec in declared.items():
        if not _described(spec):
            yield Missing(path, f"{kind} {name} column {column}")
    known = {c.lower() for c in declared}
    for column in warehouse:
        if column.lower() not in known:
            yield Missing(path, f"{kind} {name} column {column} (in the warehouse, not in YAML)")


def _catalog_columns(catalog: Mapping[str, Any] | None, section: str, uid: str) -> list[str]:
    if not catalog:
        return []
    entry = (catalog.get(section) or {}).get(uid) or {}
    return [str(c) for c in (entry.get("columns") or {})]


def _nodes(manifest: Mapping[str, Any], project: str, catalog: Any) -> Iterator[Missing]:
    for uid, node in sorted(manifest.get("nodes", {}).items()):
        kind = node.get("resource_type")
        if kind not in DOCUMENTED_NODES or node.get("package_name") != project:
            continue
        path = _yaml_path(node)
        if not node.get("patch_path"):
            yield Missing(path, f"{kind} {node['name']} (no YAML entry)")
        elif not _described(node):
            yield Missing(path, f"{kind} {node['name']}")
        columns = _catalog_columns(catalog, "nodes", uid)
        yield from _columns(kind, node["name"], path, node.get("columns") or {}, columns)


def _sources(manifest: Mapping[str, Any], project: str, catalog: Any) -> Iterator[Missing]:
    described_sources: set[str] = set()
    for uid, table in sorted(manifest.get("sources", {}).items()):
        if table.get("package_name") != project:
            continue
        path = _yaml_path(table)
        source = table["source_name"]
        if source not in described_sources:
            described_sources.add(source)
            if not _described(table, "source_description"):
                yield Missing(path, f"source {source}")
        name = f"{source}.{table['name']}"
        if not _described(table):
            yield Missing(path, f"source table {name}")
        columns = _catalog_columns(catalog, "sources", uid)
        yield from _columns("source table", name, path, table.get("columns") or {}, columns)


def _macros(manifest: Mapping[str, Any], project: str) -> Iterator[Missing]:
    for macro in sorted(manifest.get("macros", {}).values(), key=lambda m: str(m["name"])):
        if macro.get("package_name") != project:
            continue
        path = _yaml_path(macro)
        if not _described(macro):
            yield Missing(path, f"macro {macro['name']}")
        for argument in macro.get("arguments") or []:
            if not _described(argument):
                yield Missing(path, f"macro {macro['name']} argument {argument.get('name')}")


def _exposures(manifest: Mapping[str, Any], project: str) -> Iterator[Missing]:
    for exposure in sorted(manifest.get("exposures", {}).values(), key=lambda e: str(e["name"])):
        if exposure.get("package_name") != project:
            continue
        path = _yaml_path(exposure)
        if not _described(exposure):
            yield Missing(path, f"exposure {exposure['name']}")
        owner = exposure.get("owner") or {}
        if not (str(owner.get("name") or "").strip() or str(owner.get("email") or "").strip()):
            yield Missing(path, f"exposure {exposure['name']} owner")


def missing_descriptions(
    manifest: Mapping[str, Any], catalog: Mapping[str, Any] | None = None
) -> list[Missing]:
    """Every undescribed resource of the manifest's own project, in a stable order."""
    project = str((manifest.get("metadata") or {}).get("project_name") or "")
    if not project:
        raise ProjectError("manifest has no metadata.project_name: is it a dbt manifest?")
    return [
        *_nodes(manifest, project, catalog),
        *_sources(manifest, project, catalog),
        *_macros(manifest, project),
        *_exposures(manifest, project),
    ]


def counts(manifest: Mapping[str, Any]) -> dict[str, int]:
    """How many resources of each kind the check looked at (for its summary line)."""
    project = (manifest.get("metadata") or {}).get("project_name")
    own = [n for n in manifest.get("nodes", {}).values() if n.get("package_name") == project]
    documented = [n for n in own if n.get("resource_type") in DOCUMENTED_NODES]
    sources = [s for s in manifest.get("sources", {}).values() if s.get("package_name") == project]
    per_type = {
        f"{kind}s": sum(1 for n in documented if n.get("resource_type") == kind)
        for kind in DOCUMENTED_NODES
    }
    return {
        **{kind: n for kind, n in per_type.items() if n or kind == "models"},
        "columns": sum(len(n.get("columns") or {}) for n in documented),
        "source tables": len(sources),
        "source columns": sum(len(s.get("columns") or {}) for s in sources),
        "macros": sum(
            1 for m in manifest.get("macros", {}).values() if m.get("package_name") == project
        ),
        "exposures": len(manifest.get("exposures", {})),
    }


def _load(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ProjectError(f"{what} {path} does not exist: run `dbt parse` first") from exc
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{what} {path} cannot be read: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Print every missing description and return 1, or a one-line summary and 0."""
    parser = argparse.ArgumentParser(prog="python -m tools.docs_check", description=__doc__)
    parser.add_argument("--manifest", type=Path, default=Path("target/manifest.json"))
    parser.add_argument("--catalog", type=Path, help="also check warehouse columns (docs generate)")
    args = parser.parse_args(argv)
    try:
        manifest = _load(args.manifest, "manifest")
        catalog = _load(args.catalog, "catalog") if args.catalog else None
        missing = missing_descriptions(manifest, catalog)
    except SluiceError as exc:
        print(f"docs_check: error: {exc}", file=sys.stderr)
        return 2
    for item in missing:
        print(item)
    if missing:
        print(f"docs_check: {len(missing)} descriptions missing", file=sys.stderr)
        return 1
    summary = ", ".join(f"{n} {kind}" for kind, n in counts(manifest).items())
    print(f"docs_check: every resource is described ({summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
