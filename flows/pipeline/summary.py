"""The run summary per step: partitions run, rows now published in its tables, quarantined lines."""

from __future__ import annotations

from flows.pipeline.run_records import LayerSummary, PartitionRun
from flows.pipeline.workspace import Workspace
from flows.project.manifest import QUARANTINE
from flows.state.ledger import Attempt


def _relations(ws: Workspace, layer: str) -> list[tuple[str, str]]:
    """Where readers find the layer's rows (the quarantine is not a layer's rows)."""
    return [t.published for t in ws.project.tables(layer) if t.name != QUARANTINE]


def summarize(ws: Workspace, runs: list[PartitionRun]) -> list[LayerSummary]:
    """Summarize runs per step, counting rows in the warehouse as it is now."""
    relations = {layer: _relations(ws, layer) for layer in ws.project.steps}
    counts = ws.warehouse.count_rows([r for found in relations.values() for r in found])
    lines = []
    for layer in ws.project.steps:
        done = [a for r in runs for a in r.attempts if a.layer == layer]
        lines.append(
            LayerSummary(
                layer,
                len(done),
                sum(counts[r] for r in relations[layer]),
                sum(a.quarantined or 0 for a in done),
                busy_seconds(done),
            )
        )
    return lines


def busy_seconds(attempts: list[Attempt]) -> float:
    """Wall time covered by the attempts (days of one batch overlap: count it once)."""
    spans = sorted((a.started_at, a.finished_at) for a in attempts if a.finished_at)
    total, end = 0.0, None
    for start, finish in spans:
        if end is not None and start < end:
            start = end
        if finish > start:
            total += (finish - start).total_seconds()
        end = finish if end is None else max(end, finish)
    return total
