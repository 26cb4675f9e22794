"""Default suites: a published table without a suite file is checked by one derived from its YAML.

From the model's dbt data tests: not_null, unique, unique_combination (the project's generic
test), accepted_values and relationships become the matching expectations; a table with a
partition column also gets a volume check against its history (flows/gates/volume.py); an SCD2
dimension (valid_from, valid_to, is_current and a key unique with valid_from) gets its validity
intervals checked: no overlap, one current row per key, current exactly when valid_to is null.
A table needs a declared key (a unique or unique_combination test, or meta.sluice.key): without
one there is no default suite, and the pipeline refuses to publish the table (make lint says how
to add one).
"""

from __future__ import annotations

import re
from typing import Any

from flows.project.identifiers import identifier
from flows.project.manifest import ModelTable, Project

_WHY = "declared in the model's YAML ({test} test)"
_REF = re.compile(r"ref\(\s*['\"](\w+)['\"]\s*\)")


def _expectation(kind: str, kwargs: dict[str, Any], why: str, **sluice: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"why": why}
    if sluice:
        meta["sluice"] = sluice
    return {"type": kind, "kwargs": kwargs, "meta": meta, "severity": "critical"}


def _from_test(name: str, column: str | None, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    why = _WHY.format(test=name)
    if name == "not_null" and column:
        return _expectation("expect_column_values_to_not_be_null", {"column": column}, why)
    if name == "unique" and column:
        return _expectation("expect_column_values_to_be_unique", {"column": column}, why)
    if name == "unique_combination":
        columns = [identifier(c, "column") for c in kwargs.get("columns") or []]
        if len(columns) == 1:  # Great Expectations' compound check needs two or more
            return _expectation("expect_column_values_to_be_unique", {"column": columns[0]}, why)
        return _expectation("expect_compound_columns_to_be_unique", {"column_list": columns}, why)
    if name == "accepted_values" and column:
        values = list(kwargs.get("values") or [])
        return _expectation(
            "expect_column_values_to_be_in_set", {"column": column, "value_set": values}, why
        )
    if name == "relationships" and column:
        parent = _REF.search(str(kwargs.get("to") or ""))
        field = identifier(str(kwargs.get("field") or ""), "column")
        if not parent:
            return None
        child = identifier(column, "column")
        query = (
            f"select batch.* from {{batch}} as batch left join {{ref:{parent.group(1)}}} as parent"
            f" on batch.{child} = parent.{field} where batch.{child} is not null"
            f" and parent.{field} is null"
        )
        return _expectation("unexpected_rows_expectation", {"unexpected_rows_query": query}, why)
    return None


def declared_key(
    tests: list[tuple[str, str | None, dict[str, Any]]], meta: dict[str, Any]
) -> list[str]:
    """The key a model declares: meta.sluice.key, else a unique or unique_combination test."""
    key = (meta.get("sluice") or {}).get("key")
    if key:
        return [str(k) for k in ([key] if isinstance(key, str) else key)]
    for name, column, kwargs in tests:
        if name == "unique_combination":
            return [str(c) for c in kwargs.get("columns") or []]
        if name == "unique" and column:
            return [column]
    return []


def _scd2(key: list[str], columns: set[str]) -> list[dict[str, Any]]:
    """Validity interval checks of an SCD2 dimension keyed by `key` (+ valid_from)."""
    if not {"valid_from", "valid_to", "is_current"} <= columns or "valid_from" not in key:
        return []
    ids = [identifier(c, "column") for c in key if c != "valid_from"]
    same = " and ".join(f"a.{c} = b.{c}" for c in ids)
    listed = ", ".join(ids)
    matched = " and ".join(f"a.{c} = twice.{c}" for c in ids)
    return [
        _expectation(
            "unexpected_rows_expectation",
            {
                "unexpected_rows_query": (
                    f"select a.* from {{batch}} as a join {{batch}} as b on {same}"
                    " and a.valid_from < b.valid_from"
                    " and (a.valid_to is null or a.valid_to > b.valid_from)"
                )
            },
            "an SCD2 dimension's versions of a key never overlap",
        ),
        _expectation(
            "unexpected_rows_expectation",
            {
                "unexpected_rows_query": (
                    f"select a.* from {{batch}} as a join (select {listed} from {{batch}}"
                    f" where is_current group by {listed} having count(*) > 1) as twice"
                    f" on {matched} where a.is_current"
                )
            },
            "an SCD2 dimension has one current version per key",
        ),
        _expectation(
            "unexpected_rows_expectation",
            {
                "unexpected_rows_query": (
                    "select * from {batch} where is_current <> (valid_to is null)"
                )
            },
            "a version is current exactly when it has no end (valid_to is null)",
        ),
    ]


def default_suite(project: Project, table: ModelTable) -> dict[str, Any] | None:
    """The suite a published model table gets when it has no suite file (None: no key)."""
    tests = project.tests_of(table.name)
    key = declared_key(tests, project.meta_of(table.name))
    if not key:
        return None
    expectations = [e for e in (_from_test(*test) for test in tests) if e is not None]
    if table.partition_column:
        expectations.insert(
            0,
            _expectation(
                "expect_table_row_count_to_be_between",
                {
                    "min_value": {"$PARAMETER": "volume_min"},
                    "max_value": {"$PARAMETER": "volume_max"},
                },
                "a day with far fewer or more rows than its history is a broken build",
                scope="partition",
                volume={},
            ),
        )
    expectations += _scd2(key, set(project.columns_of(table.name)))
    return {
        "name": f"{table.published[0]}.{table.alias}",
        "expectations": expectations,
        "meta": {"sluice": {"key": key, "default": True}},
    }
