"""The column lineage in the dbt docs: each model column's description gains its upstream columns.

Only the docs build changes (target/manifest.json and static_index.html after `dbt docs
generate`); the YAML descriptions stay as written. Re-annotating replaces the earlier note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flows.errors import ProjectError
from flows.project.lineage import ColumnRef, Lineage, Role

MARKER = "\n\nUpstream (column lineage):"
_INLINE = ('"MANIFEST.JSON INLINE DATA"', '"CATALOG.JSON INLINE DATA"')


def _link(lineage: Lineage, ref: ColumnRef) -> str:
    """`[fct_events](#!/model/model.sluice.fct_events).event_type`, a lake field without link."""
    if ref.node in lineage.sources:
        source = lineage.sources[ref.node]
        table = source.name.split(".")[-1]
        return (
            f"[{source.name.split('.')[0]}.{table}](#!/source/{ref.node}).{ref.field or ref.column}"
        )
    model = lineage.models.get(ref.node)
    table = model.name.split(".")[-1] if model else ref.node
    return f"[{table}](#!/model/{ref.node}).{ref.column}"


def column_note(lineage: Lineage, ref: ColumnRef) -> str:
    """The markdown appended to one column's description."""
    direct = lineage.direct(ref)
    parts = []
    for role in Role:
        links = [_link(lineage, r) for r, how in direct if how is role]
        if links:
            parts.append(f"{role.value} ← {', '.join(links)}")
    lake = {
        role: sorted(
            {
                lineage.name(r.ref)
                for r in lineage.upstream(ref)
                if r.role is role and lineage.is_lake_field(r.ref)
            }
        )
        for role in Role
    }
    fields = [f"{', '.join(names)} ({role.value})" for role, names in lake.items() if names]
    if fields:
        parts.append(f"lake fields: {'; '.join(fields)}")
    return MARKER + " " + (" · ".join(parts) if parts else "none (a constant or a count)")


def _described(entry: dict[str, Any], note: str) -> None:
    text = entry.get("description") or ""
    entry["description"] = text.split(MARKER)[0] + note


def annotate_manifest(manifest: dict[str, Any], lineage: Lineage) -> int:
    """Add the note to every traced column of every model; how many columns got one."""
    count = 0
    for uid, model in lineage.models.items():
        node = manifest.get("nodes", {}).get(uid)
        if node is None:
            continue
        columns = node.setdefault("columns", {})
        for column in model.columns:
            entry = columns.get(column.column)
            if entry is None:  # a column the SQL makes but the YAML does not list
                entry = columns[column.column] = {
                    "name": column.column,
                    "description": "",
                    "meta": {},
                    "data_type": None,
                    "constraints": [],
                    "quote": None,
                    "tags": [],
                }
            _described(entry, column_note(lineage, ColumnRef(uid, column.column)))
            count += 1
    return count


def annotate_docs(target: Path, lineage: Lineage) -> int:
    """Annotate the docs dbt generated in target/ (manifest.json, and static_index.html when
    there is one, rebuilt from index.html as `--static` builds it); columns annotated."""
    manifest_path = target / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ProjectError(
            f"no dbt docs to annotate in {target}: {exc} (run dbt docs generate)"
        ) from exc
    count = annotate_manifest(manifest, lineage)
    manifest_text = json.dumps(manifest)
    manifest_path.write_text(manifest_text)
    index, catalog = target / "index.html", target / "catalog.json"
    if (target / "static_index.html").exists() and index.exists() and catalog.exists():
        html = index.read_text()
        if not all(marker in html for marker in _INLINE):
            raise ProjectError(
                f"{index} is not dbt's docs template: cannot rebuild static_index.html"
            )
        html = html.replace(_INLINE[0], manifest_text).replace(_INLINE[1], catalog.read_text())
        (target / "static_index.html").write_text(html)
    return count
