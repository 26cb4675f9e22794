"""The run report of a flow run, per partition and step: status, rows in/out, quarantined
lines, gate results and time; written as HTML under the reports folder and attached to the
Prefect flow run as a Markdown artifact (the terminal's version is flows/cli/tables.py)."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flows.errors import one_line
from flows.pipeline.run_records import LayerSummary, PartitionRun, RunReport
from flows.state.ledger import Attempt, Status

log = logging.getLogger(__name__)
ARTIFACT_KEY = "sluice-run-report"
SUMMARY_COLUMNS = ("layer", "partitions", "rows", "quarantined lines", "time (s)")


def summary_rows(summary: list[LayerSummary]) -> list[list[str]]:
    """The per-layer summary (the terminal's summary table) as text cells."""
    return [
        [s.layer, str(s.partitions), f"{s.rows:,}", f"{s.quarantined:,}", f"{s.seconds:.1f}"]
        for s in summary
    ]


def page_path(folder: Path, run_id: str) -> Path:
    """Where the HTML page of a run is written."""
    return folder / f"run-{run_id}.html"


def overview_path(folder: Path) -> Path:
    """Where `sluice report` writes its page by default; runs link to it, never rebuild it."""
    return folder / "sluice-report.html"


@dataclass(frozen=True)
class StepLine:
    """One step of one partition in a run: the run report's row."""

    dt: str
    layer: str
    status: str
    rows_in: int | None
    rows_out: int | None
    quarantined: int | None
    gate: str
    seconds: float | None
    error: str

    @classmethod
    def of(cls, attempt: Attempt) -> StepLine:
        gate = attempt.details.get("gate") or {}
        verdict = (
            f"{gate.get('checks', 0)} checks, {len(gate.get('blocking', []))} blocking, "
            f"{len(gate.get('warnings', []))} warning"
            if gate
            else ""
        )
        error = f"{attempt.error_class}: {attempt.error_message}" if attempt.error_class else ""
        return cls(
            attempt.dt.isoformat(),
            attempt.layer,
            attempt.status,
            attempt.rows_in,
            attempt.rows_out,
            attempt.quarantined,
            verdict,
            attempt.seconds,
            error,
        )

    def cells(self) -> list[str]:
        def number(value: int | None) -> str:
            return f"{value:,}" if value is not None else ""

        seconds = f"{self.seconds:.1f}" if self.seconds is not None else ""
        return [
            self.dt,
            self.layer,
            self.status,
            number(self.rows_in),
            number(self.rows_out),
            number(self.quarantined),
            self.gate,
            seconds,
            one_line(self.error, 160),
        ]


STEP_COLUMNS = (
    "date",
    "step",
    "status",
    "rows in",
    "rows out",
    "quarantined",
    "gate",
    "time (s)",
    "error",
)


def step_lines(runs: list[PartitionRun]) -> list[StepLine]:
    """Every attempt of the run, by partition then step order of the run."""
    return [StepLine.of(a) for run in sorted(runs, key=lambda r: r.dt) for a in run.attempts]


def _html_table(head: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def write_html(
    folder: Path,
    run_id: str,
    lines: list[StepLine],
    summary: list[LayerSummary],
    seconds: float,
    now: datetime,
    data_docs: Path | None = None,
) -> Path:
    """A small self-contained HTML page of the run, `<folder>/run-<time>-<run id>.html`."""
    folder.mkdir(parents=True, exist_ok=True)
    failed = sum(1 for line in lines if line.status != Status.SUCCEEDED)
    title = f"Sluice run {run_id}"
    docs = (
        f'<p><a href="{html.escape(data_docs.as_uri())}">Gate results (Data Docs)</a></p>'
        if data_docs
        else ""
    )
    overview = overview_path(folder)
    if overview.is_file():
        docs += (
            f'<p><a href="{html.escape(overview.as_uri())}">Report of the last lake days</a> '
            "(as <code>sluice report</code> last built it)</p>"
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#eee}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>finished {now:%Y-%m-%d %H:%M:%S} UTC in {seconds:.1f} s; {len(lines)} steps, {failed} not
succeeded</p>{docs}
<h2>Layers</h2>{_html_table(SUMMARY_COLUMNS, summary_rows(summary))}
<h2>Partitions and steps</h2>{_html_table(STEP_COLUMNS, [line.cells() for line in lines])}
</body></html>
"""
    path = page_path(folder, run_id)
    path.write_text(page, encoding="utf-8")
    return path


def markdown(
    run_id: str, lines: list[StepLine], summary: list[LayerSummary], seconds: float
) -> str:
    """The run report as Markdown (the Prefect artifact)."""

    def table(head: tuple[str, ...], rows: list[list[str]]) -> list[str]:
        cells = [[c.replace("|", "\\|") for c in row] for row in rows]
        return [
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
            *("| " + " | ".join(row) + " |" for row in cells),
        ]

    return "\n".join(
        [
            f"# Sluice run {run_id} ({seconds:.1f} s)",
            "",
            *table(SUMMARY_COLUMNS, summary_rows(summary)),
            "",
            *table(STEP_COLUMNS, [line.cells() for line in lines]),
        ]
    )


def _artifact(markdown_text: str, run_id: str) -> None:
    """Attach the report to the current Prefect flow run (nothing outside a flow run)."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return
    try:
        create_markdown_artifact(
            markdown=markdown_text, key=ARTIFACT_KEY, description=f"Sluice run {run_id}"
        )
    except Exception as exc:  # the report is a courtesy: it never fails the run
        log.warning("could not attach the run report to the Prefect flow run: %s", exc)


def publish(folder: Path, report: RunReport, now: datetime) -> Path | None:
    """Write the HTML page and the Prefect artifact of a run; the page (None: not writable)."""
    lines = step_lines(report.runs)
    _artifact(markdown(report.run_id, lines, report.summary, report.seconds), report.run_id)
    try:
        return write_html(
            folder, report.run_id, lines, report.summary, report.seconds, now, report.data_docs
        )
    except OSError as exc:
        log.warning("could not write the run report under %s: %s", folder, exc)
        return None
