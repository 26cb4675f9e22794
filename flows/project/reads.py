"""What each model reads of its upstreams: the dates, declared once in its meta.reads.

A model's window is the dates it writes; `meta.reads.<upstream>` (lag_days, lead_days) widens it
to the dates it reads of that upstream — the declaration macros/read_bounds.sql applies in the
SQL (in_window(..., upstream=...)) and the pipeline's blocking follows. An upstream not
declared is read over the model's own window, except by a model materialized as a table (a
dimension rebuilt from all its change rows), which reads its upstreams whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flows.errors import ProjectError
from flows.project.nodes import node_meta


@dataclass(frozen=True)
class Reach:
    """The dates of an upstream a model reads, relative to its window (or all of them)."""

    lag_days: int = 0
    lead_days: int = 0
    everything: bool = False

    def dates(self, window: tuple[date, date]) -> tuple[date, date] | None:
        """The upstream dates read when the model writes `window` (None: every date)."""
        if self.everything:
            return None
        return (
            window[0] - timedelta(days=self.lag_days),
            window[1] + timedelta(days=self.lead_days),
        )


@dataclass(frozen=True)
class Upstream:
    """One relation a model reads: its step (layer), name, kind and how far it is read."""

    layer: str
    name: str
    kind: str  # source, view, ephemeral, table, incremental
    reach: Reach


def reach_of(node: Any, upstream: str) -> Reach:
    """How `node` reads the upstream named `upstream`, from its meta (see the module text)."""
    declared = (node_meta(node).get("reads") or {}).get(upstream)
    if declared is None:
        whole = node.config.materialized == "table"
        return Reach(everything=whole)
    try:
        return Reach(int(declared.get("lag_days") or 0), int(declared.get("lead_days") or 0))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProjectError(
            f"model {node.name}: meta reads.{upstream} {declared!r} must hold whole numbers "
            "lag_days and lead_days"
        ) from exc
