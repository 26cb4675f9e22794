"""The review as Markdown (target/pr-review.md, for a CI job to post on the PR) and as a summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flows.project.lineage import Lineage
from tools.pr_review.changes import Impact, Kind, ModelChange
from tools.pr_review.checks import Finding, GateRun
from tools.pr_review.diff import TableDiff

FILE_NAME = "pr-review.md"


@dataclass(frozen=True)
class Review:
    """Everything the review says about one change."""

    base: str
    sha: str
    sample: str
    changes: tuple[ModelChange, ...]
    impact: Impact
    lineage: Lineage
    deploy: dict[str, str]
    built: tuple[str, ...]  # model names
    tests: int
    skipped: tuple[str, ...]  # in state:modified+ but not reached by a column change
    diffs: tuple[TableDiff, ...]
    linted: tuple[str, ...]
    findings: tuple[Finding, ...]
    gates: GateRun | None
    seconds: dict[str, float] = field(default_factory=dict)

    def exposures(self, change: ModelChange) -> list[str]:
        models = {change.node, *self.impact.reached.get(change.node, {})}
        return [f"{e.label} (`{e.name}`, {e.owner})" for e in self.lineage.exposures_of(models)]


def _code(items: Iterable[str]) -> str:
    found = [f"`{i}`" for i in items]
    return ", ".join(found) if found else "none"


def _headline(review: Review) -> str:
    kinds = [c.kind for c in review.changes]
    counts = ", ".join(f"{kinds.count(k)} {k.value}" for k in Kind if k in kinds)
    models = len(review.changes)
    return f"{models} model{'s' if models != 1 else ''} changed" + (f": {counts}" if counts else "")


def _change(review: Review, change: ModelChange) -> list[str]:
    lineage = review.lineage
    reached = review.impact.reached.get(change.node, {})
    lines = [
        f"### `{change.name}`: {change.kind.value}",
        f"- **Rule**: {change.rule}.",
        f"- **Changed columns**: {_code(change.changed)}; added: {_code(change.added)}; "
        f"removed: {_code(change.removed)}.",
    ]
    if reached:
        lines.append("- **Downstream columns reached** (column lineage):")
        lines += [f"  - `{lineage.models[m].name}`: {_code(cols)}" for m, cols in reached.items()]
    else:
        lines.append("- **Downstream columns reached**: none.")
    exposures = review.exposures(change)
    lines.append(f"- **Exposures**: {', '.join(exposures) if exposures else 'none'}.")
    lines.append(f"- **Deploying**: {review.deploy.get(change.node, 'nothing special')}.")
    return [*lines, ""]


def _diff(diff: TableDiff) -> list[str]:
    table = diff.table
    key = f"key ({_code(table.key)})" if table.key and not diff.note else diff.note or "no key"
    lines = [f"#### `{table.schema}.{table.name}`: {key}"]
    if diff.added_columns or diff.removed_columns:
        lines.append(
            f"Columns added: {_code(diff.added_columns)}; removed: {_code(diff.removed_columns)}."
        )
    if not diff.parts:
        return [*lines, "No rows on either side.", ""]
    changed = [
        c for c in (diff.parts[0].columns or {}) if any(p.columns.get(c) for p in diff.parts)
    ]
    head = [table.date_column or "partition", "base rows", "PR rows", "added", "removed"]
    keyed = diff.parts[0].changed is not None
    head += ["changed", *(f"`{c}`" for c in changed)] if keyed else []
    lines += [f"| {' | '.join(head)} |", f"|{'---|' * len(head)}"]
    for p in diff.parts:
        row: list[Any] = [p.date, p.base_rows, p.pr_rows, p.added, p.removed]
        row += [p.changed, *(p.columns.get(c, 0) for c in changed)] if keyed else []
        lines.append(f"| {' | '.join(str(v) for v in row)} |")
    if not diff.differs:
        lines.append("\nNo difference.")
    if diff.examples:
        names = list(diff.examples[0])
        lines += ["", "Examples of changed rows:", "", f"| {' | '.join(names)} |"]
        lines.append(f"|{'---|' * len(names)}")
        lines += [f"| {' | '.join(str(e[n]) for n in names)} |" for e in diff.examples]
    return [*lines, ""]


def _gates(gates: GateRun | None) -> list[str]:
    if gates is None or not gates.suites:
        return ["No quality-gate suite covers the tables built.", ""]
    checks = len(gates.checks)
    failed = gates.failed
    warned = [(d, c) for d, c in gates.checks if not c.success and c.severity != "critical"]
    lines = [
        f"Suites {_code(gates.suites)} on every sample day: {checks} checks, {len(failed)} "
        f"failed (critical), {len(warned)} warnings."
    ]
    lines += [
        f"- {d}: {'FAILED' if c.severity == 'critical' else 'warning'} {c.describe()}"
        for d, c in [*failed, *warned]
    ]
    return [*lines, ""]


def markdown(review: Review) -> str:
    """The whole review."""
    lines = [
        f"## Sluice PR review: {_headline(review)}",
        "",
        f"Compared with `{review.base}` (`{review.sha[:12]}`) on {review.sample}.",
        "",
        "| model | change | changed columns | downstream models | exposures |",
        "|---|---|---|---|---|",
    ]
    for c in review.changes:
        reached = review.impact.reached.get(c.node, {})
        downstream = _code(review.lineage.models[m].name for m in reached)
        exposures = ", ".join(e.split(" (")[0] for e in review.exposures(c)) or "none"
        kind = f"**{c.kind.value}**" if c.kind is Kind.BREAKING else c.kind.value
        columns = _code(c.changed or c.added)
        lines.append(f"| `{c.name}` | {kind} | {columns} | {downstream} | {exposures} |")
    lines.append("")
    for change in review.changes:
        lines += _change(review, change)
    lines += ["### Data diff (base build vs PR build)", ""]
    lines += [line for d in review.diffs for line in _diff(d)] or ["Nothing was built.", ""]
    lines += ["### Build", ""]
    if review.built:
        built, tests = _code(review.built), review.tests
        lines.append(f"Built {built} with {tests} data and unit tests (`dbt build`): passed.")
    else:
        lines.append("Nothing built: no model's data changes.")
    if review.skipped:
        lines.append(f"Not built, no column of theirs is reached: {_code(review.skipped)}.")
    if not review.impact.narrowed:
        lines.append("Some lineage was incomplete: every model downstream was built.")
    lines += ["", "### sqlfluff (changed files)", ""]
    if not review.linted:
        lines.append("No SQL file changed.")
    for path in review.linted:
        found = [f for f in review.findings if f.path.endswith(path) or f.path == path]
        lines.append(f"- `{path}`: {len(found)} finding{'s' if len(found) != 1 else ''}")
        lines += [f"  - L{f.line} {f.code}: {f.description}" for f in found]
    lines += ["", "### Quality gates (PR build)", "", *_gates(review.gates)]
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in review.seconds.items())
    lines.append(f"<sub>pr-check took {timing}.</sub>")
    return "\n".join(lines) + "\n"


def summary(review: Review) -> list[str]:
    """The terminal lines."""
    out = [f"pr-check: {_headline(review)}"]
    for c in review.changes:
        reached = review.impact.reached.get(c.node, {})
        down = ", ".join(
            f"{review.lineage.models[m].name} ({len(cols)})" for m, cols in reached.items()
        )
        exposures = ", ".join(e.split(" (")[0] for e in review.exposures(c)) or "none"
        out.append(
            f"  {c.name}: {c.kind.value}; columns {', '.join(c.changed or c.added) or 'none'}; "
            f"downstream {down or 'none'}; exposures {exposures}"
        )
    for d in review.diffs:
        changed = sum(p.changed or 0 for p in d.parts)
        added = sum(p.added for p in d.parts)
        removed = sum(p.removed for p in d.parts)
        dates = sum(1 for p in d.parts if p.added or p.removed or p.changed)
        out.append(
            f"  diff {d.table.schema}.{d.table.name}: {changed} changed, {added} added, "
            f"{removed} removed rows over {dates} dates"
        )
    gates = review.gates
    if gates and gates.suites:
        out.append(f"  gates: {len(gates.checks)} checks, {len(gates.failed)} failed")
    out.append(f"  sqlfluff: {len(review.findings)} findings in {len(review.linted)} changed files")
    return out
