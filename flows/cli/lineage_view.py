"""`sluice lineage` output: one column's upstream (or downstream) as text lines or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.project.lineage import FILE_NAME, ColumnRef, Lineage, Reach, Role


def _reach(lineage: Lineage, ref: ColumnRef, downstream: bool) -> list[Reach]:
    return lineage.downstream(ref) if downstream else lineage.upstream(ref)


def _note(lineage: Lineage, ref: ColumnRef) -> str:
    if lineage.is_lake_field(ref):
        source = lineage.sources[ref.node]
        return f"  lake field ({source.relation}.{ref.column} ->> '{ref.field}')"
    model = lineage.models.get(ref.node)
    column = model.column(ref.column) if model else None
    if model and model.error:
        return f"  (not traced: {model.error})"
    if column is not None and not column.complete:
        return "  (some references unresolved: sources may be missing)"
    return ""


def _exposures(lineage: Lineage, reached: list[Reach], ref: ColumnRef) -> list[str]:
    models = {r.ref.node for r in reached} | {ref.node}
    found = []
    for exposure in lineage.exposures_of(models):
        via = ", ".join(lineage.models[m].name for m in exposure.depends_on if m in models)
        found.append(f"{exposure.name} ({exposure.label}; {exposure.owner}) via {via}")
    return found


def lines(lineage: Lineage, ref: ColumnRef, downstream: bool = False) -> list[str]:
    """What `sluice lineage <column>` prints: role, hops and name of every column reached."""
    reached = _reach(lineage, ref, downstream)
    head = "feeds" if downstream else "is computed from"
    out = [f"{lineage.name(ref)} {head} (value: its value; filter: only which rows):"]
    if not reached:
        out.append("  nothing" if downstream else "  no column (a constant or a count of rows)")
    for reach in reached:
        out.append(
            f"  {reach.role.value:<6} {reach.hops}  {lineage.name(reach.ref)}"
            f"{_note(lineage, reach.ref)}"
        )
    if downstream:
        exposures = _exposures(lineage, reached, ref)
        out.append(f"exposures: {'; '.join(exposures) if exposures else 'none'}")
    else:
        for role in Role:
            fields = [
                lineage.name(r.ref)
                for r in reached
                if r.role is role and lineage.is_lake_field(r.ref)
            ]
            if fields:
                out.append(f"lake fields ({role.value}): {', '.join(fields)}")
    return out


def as_json(lineage: Lineage, ref: ColumnRef, downstream: bool = False) -> dict[str, Any]:
    """The same answer as JSON (stable keys)."""
    reached = _reach(lineage, ref, downstream)
    answer: dict[str, Any] = {
        "column": lineage.name(ref),
        "direction": "downstream" if downstream else "upstream",
        "columns": [
            {
                "column": lineage.name(r.ref),
                "node": r.ref.node,
                "role": r.role.value,
                "hops": r.hops,
                "lake_field": lineage.is_lake_field(r.ref),
            }
            for r in reached
        ],
    }
    if downstream:
        models = {r.ref.node for r in reached} | {ref.node}
        answer["exposures"] = [e.name for e in lineage.exposures_of(models)]
    else:
        answer["direct"] = [
            {"column": lineage.name(r), "role": role.value} for r, role in lineage.direct(ref)
        ]
    return answer


def summary(lineage: Lineage, target: Path) -> str:
    columns = sum(len(m.columns) for m in lineage.models.values())
    failed = [m.name for m in lineage.models.values() if m.error]
    path = target / FILE_NAME
    text = f"column lineage of {columns} columns of {len(lineage.models)} models in {path}"
    return text + (f"; not traced: {', '.join(failed)}" if failed else "")
