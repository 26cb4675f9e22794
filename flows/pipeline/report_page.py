"""The page of `sluice report`: one self-contained HTML file (plotly.js inlined once, no network)
with the grid of lake days and steps, the errors, three charts and the open incidents."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from flows.pipeline.report_data import Overview, Volume
from flows.state.location import StateLocation

STYLE = """body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left}th{background:#eee}td.cell{text-align:center;min-width:6em}
.state-succeeded{background:#c8e6c9}.state-failed{background:#ef9a9a}
.state-blocked{background:#ffcc80}.state-running{background:#90caf9}
.state-never-run{background:#f5f5f5;color:#999}td.accepted{outline:3px dashed #555}
.chart{max-width:1100px}.legend span{padding:2px 8px;margin-right:4px}"""
STATES = ("succeeded", "failed", "blocked", "running", "never run")
COLOURS = {"passed": "#66bb6a", "warned": "#ffa726", "blocked": "#e53935"}
CONFIG = {"displaylogo": False, "responsive": True}
MARGIN = {"t": 40, "b": 40}
DAY_MS = 86_400_000  # a date axis counts milliseconds


def esc(value: object) -> str:
    """Text from the state store, safe inside HTML (and in plotly.js labels, which read HTML)."""
    return html.escape(str(value), quote=True)


def render(overview: Overview, state: StateLocation) -> str:
    """The whole page."""
    import plotly.offline

    span = (
        f"lake days {overview.days[0]}..{overview.days[-1]} ({len(overview.days)} days)"
        if overview.days
        else "no partition has run yet"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice report</title>
<style>{STYLE}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head><body><h1>Sluice report</h1>
<p>{esc(span)}; built {overview.built_at:%Y-%m-%d %H:%M:%S} UTC from the state store
{esc(state)}. <code>sluice report</code> rebuilds it; runs only link to it.</p>
<h2>Lake days and steps (latest attempt)</h2>{_legend()}{_grid(overview)}
<h2>Errors of the latest attempts</h2>{_errors(overview)}
<h2>Volume per lake day and its expected range</h2>{_chart("volume", _volume_figure(overview))}
<h2>Step durations</h2>{_chart("durations", _durations_figure(overview))}
<h2>Gate checks per lake day</h2>{_chart("gates", _gates_figure(overview))}
<h2>Open incidents</h2>{_incidents(overview)}
</body></html>
"""


def write(path: Path, overview: Overview, state: StateLocation) -> Path:
    """Write the page to `path` (its folder created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(overview, state), encoding="utf-8")
    return path


def _legend() -> str:
    keys = "".join(f'<span class="state-{s.replace(" ", "-")}">{s}</span>' for s in STATES)
    return f'<p class="legend">{keys}<span class="accepted">dashed: accepted</span></p>'


def _grid(overview: Overview) -> str:
    head = "".join(f"<th>{esc(step)}</th>" for step in overview.steps)
    rows = []
    for dt in reversed(overview.days):  # the newest day first
        cells = []
        for step in overview.steps:
            cell = overview.cell(dt, step)
            classes = f"cell state-{cell.state.replace(' ', '-')}"
            title = cell.error or cell.state
            if cell.seconds is not None:
                title += f" (attempt {cell.attempt}, {cell.seconds:.1f} s)"
            if cell.accepted:
                classes += " accepted"
                title += f"; accepted: {cell.accepted}"
            cells.append(f'<td class="{esc(classes)}" title="{esc(title)}">{esc(cell.state)}</td>')
        rows.append(f"<tr><th>{dt}</th>{''.join(cells)}</tr>")
    return (
        f'<table id="grid"><thead><tr><th>lake day</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _errors(overview: Overview) -> str:
    items = [
        f"<li><b>{c.dt} {esc(c.step)}</b> (attempt {c.attempt}, {esc(c.state)}): "
        f"{esc(c.error)}</li>"
        for c in sorted(overview.cells, key=lambda c: (c.dt, c.step), reverse=True)
        if c.error
    ]
    return f'<ul id="errors">{"".join(items)}</ul>' if items else "<p>none</p>"


def _incidents(overview: Overview) -> str:
    if not overview.incidents:
        return '<p id="incidents">no open incident</p>'
    head = "".join(
        f"<th>{h}</th>"
        for h in ("severity", "kind", "lake day", "step", "what", "error", "seen", "count")
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(value)}</td>"
            for value in (
                i.severity.value,
                i.kind.value,
                i.partition or "",
                i.layer or "",
                i.what,
                i.error_line,
                f"{i.first_seen:%Y-%m-%d %H:%M}..{i.last_seen:%Y-%m-%d %H:%M}",
                i.count,
            )
        )
        + "</tr>"
        for i in overview.incidents
    )
    return f'<table id="incidents"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _chart(name: str, figure: Any) -> str:
    """A figure's div (plotly.js is in the page's head), or why there is none."""
    if figure is None:
        return f'<p class="chart" id="chart-{name}">nothing to draw in these days</p>'
    div = figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"plot-{name}", config=CONFIG
    )
    return f'<section class="chart" id="chart-{name}">{div}</section>'


def _volume_figure(overview: Overview) -> Any:
    from plotly.subplots import make_subplots

    suites = sorted({v.suite for v in overview.volumes})
    if not suites:
        return None
    figure = make_subplots(
        rows=len(suites),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[esc(s) for s in suites],
        vertical_spacing=0.12 / len(suites),
    )
    for row, suite in enumerate(suites, start=1):
        points = [v for v in overview.volumes if v.suite == suite]
        for trace in _volume_traces(points, legend=row == 1):
            figure.add_trace(trace, row=row, col=1)
    figure.update_layout(
        height=120 + 260 * len(suites), barmode="overlay", template="plotly_white", margin=MARGIN
    )
    return figure


def _volume_traces(points: list[Volume], *, legend: bool) -> list[Any]:
    """Each day's range that a critical check blocks outside and the finer one of the first
    weeks that only warns (a floating bar per day; none where only a floor applied), and the
    rows seen."""
    import plotly.graph_objects as go

    days = [v.dt.isoformat() for v in points]
    traces = []
    for name, bands, colour, width in (
        ("blocks outside", [v.blocks for v in points], "rgba(229,57,53,0.15)", 0.8),
        ("warns outside", [v.warns for v in points], "rgba(255,167,38,0.35)", 0.5),
    ):
        drawn = [b if b is not None and b.high is not None else None for b in bands]
        if not any(drawn):
            continue
        traces.append(
            go.Bar(
                x=days,
                y=[b.high - b.low if b and b.high is not None else None for b in drawn],
                base=[b.low if b else None for b in drawn],
                width=width * DAY_MS,
                marker={"color": colour},
                name=name,
                legendgroup=name,
                showlegend=legend,
                hoverinfo="skip",
            )
        )
    traces.append(
        go.Scatter(
            x=days,
            y=[v.observed for v in points],
            mode="lines+markers",
            name="rows",
            legendgroup="rows",
            showlegend=legend,
            line={"color": "#1e88e5"},
            marker={"size": 9, "color": [_marker(v) for v in points]},
            text=[_volume_hover(v) for v in points],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    return traces


def _marker(volume: Volume) -> str:
    """Red outside the range that blocks, orange outside the one that warns, else blue."""
    for band, colour in ((volume.blocks, COLOURS["blocked"]), (volume.warns, COLOURS["warned"])):
        if band is not None and (
            volume.observed < band.low or (band.high is not None and volume.observed > band.high)
        ):
            return colour
    return "#1e88e5"


def _volume_hover(volume: Volume) -> str:
    lines = [f"{volume.dt} {esc(volume.suite)}: {volume.observed:,} rows"]
    lines += [esc(band.rule) for band in (volume.blocks, volume.warns) if band is not None]
    return "<br>".join(lines)


def _durations_figure(overview: Overview) -> Any:
    import plotly.graph_objects as go

    if not overview.cells:
        return None
    days = [dt.isoformat() for dt in overview.days]
    figure = go.Figure()
    for step in overview.steps:
        seconds = [overview.cell(dt, step).seconds for dt in overview.days]
        figure.add_trace(go.Scatter(x=days, y=seconds, mode="lines+markers", name=esc(step)))
    figure.update_layout(
        height=360, template="plotly_white", yaxis_title="seconds (latest attempt)", margin=MARGIN
    )
    return figure


def _gates_figure(overview: Overview) -> Any:
    import plotly.graph_objects as go

    if not overview.gate_days:
        return None
    days = [g.dt.isoformat() for g in overview.gate_days]
    figure = go.Figure()
    for name, colour in COLOURS.items():
        counts = [getattr(g, name) for g in overview.gate_days]
        figure.add_trace(go.Bar(x=days, y=counts, name=name, marker_color=colour))
    figure.update_layout(
        barmode="stack", height=360, template="plotly_white", yaxis_title="checks", margin=MARGIN
    )
    return figure
