"""Column lineage on small compiled SELECTs: roles, JSON fields, fingerprints, questions, docs."""

from __future__ import annotations

import pytest

from flows.errors import InvalidParameter
from flows.project.lineage import ColumnLineage, ColumnRef, Exposure, Lineage, ModelLineage, Role
from flows.project.lineage import Source as LakeSource
from flows.project.lineage_docs import annotate_manifest
from flows.project.lineage_sql import Read, trace

RAW = ("wh", "raw", "events")
FCT = ("wh", "dwh", "fct")
TABLES = {
    RAW: ["dt", "payload"],
    FCT: ["event_date", "platform", "user_id", "event_type"],
}
KPIS = """
with events as (
    select event_date, platform, user_id, event_type from "wh"."dwh"."fct" where true
),
counts as (
    select
        event_date,
        platform,
        count(distinct user_id) as active_users,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks
    from events
    group by event_date, platform
)
select event_date, platform, active_users, clicks, round(1.0 * clicks / 2, 6) as ctr
from counts
"""


def _reads(reads: frozenset[Read]) -> set[tuple[str, str | None]]:
    return {(r.column, r.field) for r in reads}


def test_a_case_condition_is_a_value_source_and_a_group_by_column_only_a_filter() -> None:
    traced = trace(KPIS, TABLES)

    assert list(traced) == ["event_date", "platform", "active_users", "clicks", "ctr"]
    assert _reads(traced["ctr"].values) == {("event_type", None)}
    assert _reads(traced["ctr"].filters) == {("event_date", None), ("platform", None)}
    assert _reads(traced["active_users"].values) == {("user_id", None)}
    assert all(t.complete for t in traced.values())


def test_a_json_path_read_through_a_cte_keeps_the_payload_field() -> None:
    sql = """
    with source as (select dt, payload from "wh"."raw"."events" where dt is not null)
    select dt as landed_date, (payload ->> 'event_type') as event_type,
        try_cast((payload ->> 'slot') as bigint) as slot
    from source
    """
    traced = trace(sql, TABLES)

    assert _reads(traced["event_type"].values) == {("payload", "event_type")}
    assert _reads(traced["slot"].values) == {("payload", "slot")}
    assert _reads(traced["slot"].filters) == {("dt", None)}
    assert _reads(traced["landed_date"].values) == {("dt", None)}


def test_comments_formatting_and_step_names_leave_the_fingerprints_alone() -> None:
    base = trace(KPIS, TABLES)
    restyled = KPIS.replace("counts", "per_day").replace("select", "SELECT\n  -- why\n")
    again = trace(restyled, TABLES)

    assert {c: (t.expression, t.rows) for c, t in base.items()} == {
        c: (t.expression, t.rows) for c, t in again.items()
    }


def test_a_changed_expression_changes_its_column_and_a_changed_filter_every_column() -> None:
    base = trace(KPIS, TABLES)
    expression = trace(KPIS.replace("clicks / 2", "clicks / 3"), TABLES)
    filtered = trace(KPIS.replace("where true", "where platform != 'web'"), TABLES)

    assert [c for c in base if base[c].expression != expression[c].expression] == ["ctr"]
    assert all(base[c].rows == expression[c].rows for c in base)
    assert all(base[c].rows != filtered[c].rows for c in base)


def _lineage() -> Lineage:
    def column(name: str, values: list[ColumnRef], filters: list[ColumnRef]) -> ColumnLineage:
        return ColumnLineage(name, tuple(values), tuple(filters), name, "rows", True)

    src = "source.p.app.events"
    fct, kpis = "model.p.fct", "model.p.kpis"
    return Lineage(
        models={
            fct: ModelLineage(
                fct,
                "dwh.fct",
                (
                    column("event_type", [ColumnRef(src, "payload", "event_type")], []),
                    column("event_date", [ColumnRef(src, "dt")], []),
                ),
            ),
            kpis: ModelLineage(
                kpis,
                "marts.kpis",
                (column("ctr", [ColumnRef(fct, "event_type")], [ColumnRef(fct, "event_date")]),),
            ),
        },
        sources={src: LakeSource(src, "app.events", "raw.events", ("event_type", "user_id"))},
        exposures={
            "exposure.p.board": Exposure("exposure.p.board", "board", "Board", "Team", (kpis,))
        },
    )


def test_upstream_composes_roles_down_to_the_lake_fields() -> None:
    lineage = _lineage()
    reached = lineage.upstream(lineage.find("marts.kpis.ctr"))

    assert [(lineage.name(r.ref), r.role, r.hops) for r in reached] == [
        ("dwh.fct.event_type", Role.VALUE, 1),
        ("app.events.event_type", Role.VALUE, 2),
        ("dwh.fct.event_date", Role.FILTER, 1),
        ("raw.events.dt", Role.FILTER, 2),
    ]
    assert lineage.is_lake_field(reached[1].ref)
    down = lineage.downstream(ColumnRef("model.p.fct", "event_date"))
    assert [(lineage.name(r.ref), r.role) for r in down] == [("marts.kpis.ctr", Role.FILTER)]
    assert [e.name for e in lineage.exposures_of({"model.p.kpis"})] == ["board"]
    assert Lineage.from_json(lineage.as_json()) == lineage


def test_an_unknown_column_is_named_with_close_matches() -> None:
    lineage = _lineage()
    assert lineage.find("kpis.ctr") == ColumnRef("model.p.kpis", "ctr")
    with pytest.raises(InvalidParameter) as bad_column:
        lineage.find("marts.kpis.ctrr")
    assert str(bad_column.value).startswith("no column for 'marts.kpis.ctrr'")
    assert "close matches: marts.kpis.ctr" in str(bad_column.value)
    with pytest.raises(InvalidParameter) as bad_model:
        lineage.find("marts.kpi.ctr")
    assert str(bad_model.value).startswith("no model for 'marts.kpi.ctr'")


def test_annotating_the_docs_twice_leaves_one_upstream_note() -> None:
    manifest = {
        "nodes": {"model.p.kpis": {"columns": {"ctr": {"name": "ctr", "description": "Rate."}}}}
    }
    annotate_manifest(manifest, _lineage())
    assert annotate_manifest(manifest, _lineage()) == 1
    text = manifest["nodes"]["model.p.kpis"]["columns"]["ctr"]["description"]
    assert text == (
        "Rate.\n\nUpstream (column lineage): value ← [fct](#!/model/model.p.fct).event_type"
        " · filter ← [fct](#!/model/model.p.fct).event_date"
        " · lake fields: app.events.event_type (value)"
    )
