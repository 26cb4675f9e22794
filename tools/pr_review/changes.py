"""Kinds of change: each changed model compared column by column, base lineage against PR lineage.

The rules, in order (the first that applies):
- a new model is non-breaking: nothing read it before;
- SQL the lineage cannot trace is breaking for every column (nothing is assumed);
- a removed (or renamed) column is breaking: whatever reads it downstream fails;
- changed rows (a filter, join or grouping) are breaking for every column of the model;
- a changed expression of an existing column is breaking for the columns computed from it;
- only added columns are non-breaking: existing columns keep their values, nothing reads the
  new ones yet;
- otherwise there is no data change (comments, formatting, names of intermediate steps, YAML).
Expressions are compared by lineage fingerprints, which sqlglot normalizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flows.project.lineage import ColumnRef, Lineage, ModelLineage


class Kind(StrEnum):
    BREAKING = "breaking"
    NON_BREAKING = "non-breaking"
    NO_DATA_CHANGE = "no data change"


@dataclass(frozen=True)
class ModelChange:
    """One changed model: its kind, the rule that decided it, and the columns it changes."""

    node: str
    name: str
    kind: Kind
    rule: str
    changed: tuple[str, ...]
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    new_model: bool = False


@dataclass(frozen=True)
class Impact:
    """What changes downstream: per changed model, the downstream model columns it reaches."""

    reached: dict[str, dict[str, tuple[str, ...]]]
    narrowed: bool  # False: some lineage was incomplete, so state:modified+ was kept whole

    @property
    def models(self) -> list[str]:
        """Every impacted downstream model, each once."""
        return sorted({uid for found in self.reached.values() for uid in found})


def _names(columns: Iterable[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def classify(node: str, base: Lineage, pr: Lineage) -> ModelChange:
    """The kind of change of one model present in the PR."""
    new = pr.models[node]
    old = base.models.get(node)
    every = tuple(c.column for c in new.columns)
    if old is None:
        return ModelChange(
            node,
            new.name,
            Kind.NON_BREAKING,
            "a new model: nothing read it before",
            every,
            added=every,
            new_model=True,
        )
    if new.error or old.error:
        why = new.error or old.error
        return ModelChange(
            node,
            new.name,
            Kind.BREAKING,
            f"its SQL could not be traced ({why}): breaking for every column",
            every,
        )
    before = {c.column: c for c in old.columns}
    added = tuple(c for c in every if c not in before)
    removed = tuple(c for c in before if c not in set(every))
    common = [c for c in new.columns if c.column in before]
    rows = [c.column for c in common if c.rows != before[c.column].rows]
    changed = tuple(c.column for c in common if c.expression != before[c.column].expression)
    if removed:
        return ModelChange(
            node,
            new.name,
            Kind.BREAKING,
            f"column {_names(removed)} was removed or renamed: whatever reads it downstream breaks",
            changed,
            added,
            removed,
        )
    if rows:
        return ModelChange(
            node,
            new.name,
            Kind.BREAKING,
            "which rows exist changed (a filter, join or grouping): breaking for "
            "every column and everything downstream that reads them",
            tuple(c.column for c in common),
            added,
        )
    if changed:
        return ModelChange(
            node,
            new.name,
            Kind.BREAKING,
            f"the expression of existing column {_names(changed)} changed: "
            "breaking for the downstream columns computed from it",
            changed,
            added,
        )
    if added:
        return ModelChange(
            node,
            new.name,
            Kind.NON_BREAKING,
            f"column {_names(added)} was only added: existing columns compute the "
            "same values and nothing downstream reads the new one yet",
            (),
            added,
        )
    return ModelChange(
        node,
        new.name,
        Kind.NO_DATA_CHANGE,
        "every column computes the same values from the same rows (the compiled "
        "SQL differs at most in comments, formatting or names of steps)",
        (),
    )


def _complete(model: ModelLineage | None) -> bool:
    return model is not None and not model.error and all(c.complete for c in model.columns)


def _reach(change: ModelChange, base: Lineage, pr: Lineage) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for lineage, columns in ((pr, change.changed), (base, change.removed)):
        for column in columns:
            for reach in lineage.downstream(ColumnRef(change.node, column)):
                found.setdefault(reach.ref.node, set()).add(reach.ref.column)
    return found


def impact(
    changes: Iterable[ModelChange], base: Lineage, pr: Lineage, candidates: Iterable[str]
) -> Impact:
    """Downstream columns the changes reach (PR lineage; removed columns: base lineage), within
    the candidate models (state:modified+). Where lineage is incomplete, keep every candidate
    downstream of a data change: narrowing is only safe where every hop is known."""
    changes = list(changes)
    direct = {c.node for c in changes}
    downstream = [uid for uid in candidates if uid not in direct and uid in pr.models]
    unsure = [uid for uid in downstream if not _complete(pr.models.get(uid))]
    reached: dict[str, dict[str, tuple[str, ...]]] = {}
    narrowed = True
    for change in changes:
        found = _reach(change, base, pr)
        if unsure and change.kind is not Kind.NO_DATA_CHANGE:
            narrowed = False
            for uid in unsure:
                found.setdefault(uid, set()).update(c.column for c in pr.models[uid].columns)
        reached[change.node] = {
            uid: tuple(c.column for c in pr.models[uid].columns if c.column in columns)
            for uid, columns in sorted(found.items())
            if uid in pr.models and uid not in direct
        }
    return Impact(reached, narrowed)


def deploy_note(change: ModelChange, node: Mapping[str, Any]) -> str:
    """What deploying the change needs, from the model's config (materialization, window)."""
    config = node.get("config") or {}
    materialized = config.get("materialized")
    window = ((config.get("meta") or {}).get("window")) or {}
    lag, lead = int(window.get("lag_days") or 0), int(window.get("lead_days") or 0)
    column = config.get("event_time") or "its date"
    span = f"lake day D rewrites {column} D-{lag}…D" + (f"+{lead}" if lead else "")
    # Lake day D rewrites date D (lag, lead >= 0): lake days A…B restate dates A…B.
    rerun = (
        "re-run lake days A…B to restate dates A…B (`sluice backfill --start A --end B --force`)"
    )
    if change.kind is Kind.NO_DATA_CHANGE:
        return "nothing: no data changes"
    if materialized != "incremental":
        return f"nothing special: a {materialized} is rebuilt whole by every run"
    if change.new_model:
        return "nothing special: its first run builds it from everything upstream holds"
    policy = config.get("on_schema_change") or "ignore"
    if (change.added or change.removed) and policy == "fail":
        return (
            f"`on_schema_change: fail`: the next run fails until the table is rebuilt whole "
            f"(a full refresh: every {column} from the first lake day on) before the next "
            f"daily run; {span}"
        )
    if change.added and not change.changed and policy == "append_new_columns":
        return f"the new column is appended on the next run, null for older dates: {rerun}"
    return (
        f"new runs write new values only in their windows ({span}); older dates keep the old "
        f"values: {rerun}"
    )
