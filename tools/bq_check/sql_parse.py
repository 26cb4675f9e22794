"""Syntax check: sqlfluff's BigQuery grammar over each model's BigQuery-compiled SQL."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlfluff.core import FluffConfig, Linter

from tools.bq_check.semantic import CompiledModel


@dataclass
class ParseReport:
    """Models parsed and the unparsable sections found, each naming its model and line."""

    parsed: int = 0
    failures: list[str] = field(default_factory=list)


def parse_models(models: list[CompiledModel]) -> ParseReport:
    """Parse every model with `--dialect bigquery --templater jinja`; list unparsable sections."""
    linter = Linter(config=FluffConfig(overrides={"dialect": "bigquery", "templater": "jinja"}))
    report = ParseReport()
    for model in models:
        parsed = linter.parse_string(model.sql, fname=f"{model.name}.sql")
        report.parsed += 1
        for violation in parsed.violations:
            report.failures.append(f"model {model.name}: {violation.desc()}")
        if parsed.tree is None:
            continue
        for segment in parsed.tree.recursive_crawl("unparsable"):
            line = segment.pos_marker.line_no if segment.pos_marker else "?"
            snippet = " ".join(segment.raw.split())[:80]
            report.failures.append(
                f"model {model.name}: unparsable section at line {line}: {snippet!r}"
            )
    return report
