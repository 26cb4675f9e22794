"""The gate runner: each layer's suites validated by Great Expectations on one lake day, in SQL.

The same gates run on DuckDB and on BigQuery: what differs (GX's datasource, identifier quoting,
where failing rows go) is the warehouse object's (flows/warehouse/).
"""

from __future__ import annotations

import json
import logging
import threading
import time as time_module
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from flows.dates import Clock, utc_now
from flows.gates.checks import Check, GateResult, failing_rows_query, plain, raised
from flows.gates.history import SuiteRun, passed_counts, record
from flows.gates.suites import Suite, load_suites, ref_relations
from flows.gates.unread_statements import UnreadStatements
from flows.gates.volume import VolumeRule, check_bounds, volume_meta, warning_band
from flows.project.manifest import Project
from flows.state.store import StateStore
from flows.warehouse.interface import Warehouse

log = logging.getLogger(__name__)


class Gates:
    """Runs the suites of a layer on one partition and records what failed."""

    def __init__(
        self,
        warehouse: Warehouse,
        project: Project,
        project_dir: Path,
        store: StateStore,
        clock: Clock = utc_now,
        holidays: frozenset[date] = frozenset(),
    ) -> None:
        self.warehouse = warehouse
        self.holidays = holidays
        self.project = project
        self.store = store
        self.clock = clock
        self.suites, self.unsuited = load_suites(project, project_dir)
        self.refs = ref_relations(project)
        self.flagged = False  # a check failed or warned since the last build_docs()
        # GX's context is not thread-safe (adding an asset rebuilds the data source's list, and
        # a validation looks its asset up by name): days landed side by side take turns at it
        self._gx_turn = threading.RLock()
        self._unread = UnreadStatements()

    def start(self) -> float:
        """Start Great Expectations (its import takes seconds); the seconds it took, 0 if it
        had started. Steps call it before timing their gate, so gate time is validation."""
        if "_context" in self.__dict__ or not self.suites:
            return 0.0
        began = time_module.perf_counter()
        with self._gx_turn:
            self._context  # noqa: B018  # creating the context is the point
        return time_module.perf_counter() - began

    def layer_suites(self, layer: str) -> list[Suite]:
        return [s for s in self.suites if s.layer == layer]

    @cached_property
    def _context(self) -> Any:
        from flows.gates.gx_import import ProgressBarsConfig, gx

        context = gx.get_context(mode="ephemeral")
        # Its configuration lives in this object, yet GX serializes all of it to YAML each time
        # an asset or batch definition is added (two saves a validation, a tenth of the gates'
        # time, growing with the assets): nothing reads that copy back, so it is not made.
        context._save_project_config = lambda: None  # type: ignore[method-assign]
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self.warehouse.add_gx_datasource(context, "warehouse")
        return context

    def run_days(
        self,
        layer: str,
        days: list[date],
        run_id: str,
        *,
        schema_suffix: str = "",
        tables: frozenset[str] | None = None,
    ) -> dict[date, GateResult]:
        """The gates of a step built for contiguous lake days, each day's in turn: the first
        day's also checks the dates before the batch, the last day's those after it, so each
        rewritten date is checked once. Nothing changes the tables between the days' gates, so
        a validation another day already ran (the same SQL, expectations and parameters: a
        whole table, say) is not run again; its result counts for each day."""
        same: _Validations = {}
        return {
            dt: self.run(
                layer,
                dt,
                run_id,
                schema_suffix=schema_suffix,
                lag=dt == days[0],
                lead=dt == days[-1],
                tables=tables,
                same=same,
            )
            for dt in days
        }

    def run(
        self,
        layer: str,
        dt: date,
        run_id: str,
        *,
        schema_suffix: str = "",
        lag: bool = True,
        lead: bool = True,
        tables: frozenset[str] | None = None,
        same: _Validations | None = None,
    ) -> GateResult:
        """Validate every suite of `layer` (of `tables` only, when given) for lake day dt;
        failing rows go to the audit table.

        Expectations scoped to the partition see the rows dated dt; the others see every date
        the step rewrote, [dt - lag_days, dt + lead_days] of the suite's model, so nothing is
        published unchecked (one validation for both where those are the same rows). In a batch
        of days, `lag`/`lead` False leave that side of the window to the neighbouring day that
        checks it; `same` holds the batch's validations so far (run_days).
        """
        suites = [s for s in self.layer_suites(layer) if tables is None or s.table in tables]
        if not suites:
            return GateResult(layer, dt)
        checks: list[Check] = []
        rows: dict[str, int] = {}
        for suite in suites:
            first, last = suite.window.bounds(dt)
            window = (first if lag else dt, last if lead else dt)
            suite_checks: list[Check] = []
            failing: list[tuple[Check, list[dict[str, Any]]]] = []
            row_count = None
            for configs, dates in _scopes(suite, dt, window):
                found, count, bad = self._validate(
                    suite, configs, dt, dates, run_id, schema_suffix, same
                )
                suite_checks.extend(found)
                failing.extend(bad)
                row_count = count if count is not None else row_count
            checks.extend(suite_checks)
            if row_count is not None:
                rows[suite.name] = row_count
            self._record(suite, dt, layer, run_id, suite_checks, row_count, failing)
        self.flagged = self.flagged or not all(c.success for c in checks)
        return GateResult(layer, dt, tuple(checks), rows)

    def build_docs(self, folder: Path, policy: str = "always") -> Path | None:
        """Write GX Data Docs for the validations run since the last call; the index page.

        None when nothing was validated, or the policy (Settings.data_docs) says not to
        render: `on_failure` renders only when a check failed or warned. The results are then
        dropped from the in-memory store, so each call's pages show one run.
        """
        if "_context" not in self.__dict__:
            return None  # GX never started in this process: nothing was validated
        context = self._context
        store = context.validation_results_store
        keys = store.list_keys()
        flagged, self.flagged = self.flagged, False
        if not keys or policy == "never" or (policy == "on_failure" and not flagged):
            for key in keys:
                store.remove_key(key)
            return None
        folder.mkdir(parents=True, exist_ok=True)
        site = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(folder),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        sites = context.variables.data_docs_sites or {}
        sites["sluice"] = site
        context.variables.data_docs_sites = sites
        context.build_data_docs(site_names=["sluice"])
        for key in keys:
            store.remove_key(key)
        return folder / "index.html"

    def _validate(
        self,
        suite: Suite,
        configs: list[dict[str, Any]],
        dt: date,
        dates: tuple[date, date],
        run_id: str,
        schema_suffix: str,
        same: _Validations | None = None,
    ) -> _Validated:
        first, last = (d.isoformat() for d in dates)  # dates, never user text
        quote = self.warehouse.quote
        relation = ".".join(quote(part) for part in suite.relation_parts(schema_suffix))
        batch_sql = f"select * from {relation}"  # a whole table (a dimension) is checked whole
        if suite.partition_column:
            batch_sql += (
                f" where {quote(suite.partition_column)}"
                f" between cast('{first}' as date) and cast('{last}' as date)"
            )
        params, configs = self._parameters(suite, configs, dt)
        if same is None:
            return self._run_validation(suite, configs, params, batch_sql, run_id, (first, last))
        key = json.dumps([suite.name, batch_sql, params, configs], sort_keys=True, default=str)
        if key not in same:
            same[key] = self._run_validation(
                suite, configs, params, batch_sql, run_id, (first, last)
            )
        return same[key]

    def _run_validation(
        self,
        suite: Suite,
        configs: list[dict[str, Any]],
        params: dict[str, Any],
        batch_sql: str,
        run_id: str,
        dates: tuple[str, str],
    ) -> _Validated:
        from flows.gates.gx_import import ExpectationConfiguration, gx

        first, last = dates
        expectations = []
        for config in configs:
            kwargs = dict(config["kwargs"])
            if "unexpected_rows_query" in kwargs:
                kwargs["unexpected_rows_query"] = self._render(kwargs["unexpected_rows_query"])
            expectations.append(
                ExpectationConfiguration(**{**config, "kwargs": kwargs}).to_domain_obj()
            )
        # BASIC, not COMPLETE: counts and observed values, and the failing rows' condition as
        # SQL (run only when a check fails, `_failing_rows`); COMPLETE also fetched every
        # failing value and key on every run, pass or fail: 197 statements for one DuckDB dwh
        # gate against 161, and each is a billed query on BigQuery. No sample of failing
        # values either (GX's partial list, 20 by default, fetched even when the check passes
        # and never read here): with a limit of 0 DuckDB answers without scanning, where the
        # uniqueness sample of a 1M-events-a-day window took 0.47 s. GX still builds the
        # sample's statement, with LIMIT 0: it is answered here, not sent (unread_statements.py).
        result_format: dict[str, Any] = {
            "result_format": "BASIC",
            "return_unexpected_index_query": True,
            "partial_unexpected_count": 0,
        }
        if suite.key:
            result_format["unexpected_index_column_names"] = list(suite.key)
        name = f"{suite.name}@{first}_{last}@{run_id}@{uuid.uuid4().hex[:8]}"
        with self._gx_turn:
            context = self._context
            source = context.data_sources.get("warehouse")
            self._unread.install(source.get_execution_engine())
            self._unread.batch_sql = batch_sql
            batch = source.add_query_asset(
                name=name, query=batch_sql
            ).add_batch_definition_whole_table("partition")
            gx_suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
            )
            try:
                result = definition.run(expectation_parameters=params, result_format=result_format)
            finally:  # GX rebuilds every asset of the data source whenever one is added
                source.delete_asset(name)
        checks, failing = [], []
        row_count = None
        for item in result.results:
            config = item.expectation_config
            outcome = item.result or {}
            kind = config.type
            check = Check(
                suite=suite.name,
                expectation=kind,
                column=config.kwargs.get("column"),
                severity=str(getattr(config.severity, "value", config.severity) or "critical"),
                success=bool(item.success),
                observed=plain(outcome.get("observed_value")),
                unexpected_count=outcome.get("unexpected_count"),
                why=(config.meta or {}).get("why", ""),
                expected=str((config.meta or {}).get("expected") or ""),
                bounds=check_bounds((config.meta or {}).get("bounds")),
            )
            if kind == "expect_table_row_count_to_be_between":
                row_count = int(outcome.get("observed_value") or 0)
            error = raised(item.exception_info)
            if error:  # a check that cannot run blocks (fails closed)
                check = replace(
                    check, severity="critical", success=False, observed=error[:300],
                    unexpected_count=None,
                )  # fmt: skip
            checks.append(check)
            if not check.success:
                rows = [] if error else self._failing_rows(config, outcome, batch_sql)
                failing.append((check, rows))
        return checks, row_count, failing

    def _parameters(
        self, suite: Suite, expectations: list[dict[str, Any]], dt: date
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run-time suite parameters (volume bounds from history, freshness) and severities."""
        params: dict[str, Any] = {}
        configs = []
        for config in expectations:
            sluice = (config.get("meta") or {}).get("sluice") or {}
            config = dict(config)
            if "volume" in sluice:
                rule = VolumeRule.of(sluice["volume"])
                history = passed_counts(self.store, suite.name, dt, rule.history_days)
                stop, warn = rule.bounds(dt, history, self.holidays)
                params["volume_min"], params["volume_max"] = stop.low, stop.high
                config["meta"] = {**config["meta"], **volume_meta(stop)}
                if warn is not None:  # the first weeks: a finer band that only warns
                    params["volume_warn_min"], params["volume_warn_max"] = warn.low, warn.high
                    configs.append(warning_band(config, warn))
            if "fresh_after_hours" in sluice:
                zone = UTC if self.warehouse.aware_timestamps else None
                moment = datetime.combine(dt, time(), tzinfo=zone) + timedelta(
                    hours=int(sluice["fresh_after_hours"])
                )
                params["fresh_after"] = moment.isoformat(sep=" ")
            configs.append(config)
        return params, configs

    def _render(self, query: str) -> str:
        for placeholder, relation in self.refs.items():
            query = query.replace(placeholder, relation)
        return query

    def _failing_rows(
        self, config: Any, outcome: dict[str, Any], batch_sql: str
    ) -> list[dict[str, Any]]:
        """All failing rows of a row-level expectation (GX's own lists are capped)."""
        query = failing_rows_query(config, outcome, batch_sql, self.warehouse.quote)
        if not query:
            return []
        return [{k: plain(v) for k, v in row.items()} for row in self.warehouse.select_rows(query)]

    def _record(
        self,
        suite: Suite,
        dt: date,
        layer: str,
        run_id: str,
        checks: list[Check],
        row_count: int | None,
        failing: list[tuple[Check, list[dict[str, Any]]]],
    ) -> None:
        now = self.clock()
        record(
            self.store,
            SuiteRun(dt, layer, suite.name, run_id, now, row_count, tuple(checks)),
        )
        audit_rows = [
            [
                run_id,
                now.replace(tzinfo=None),
                dt,
                layer,
                suite.name,
                check.expectation,
                check.severity,
                check.column,
                json.dumps(row, default=str),
            ]
            for check, rows in failing
            for row in (rows or [{"observed": check.observed}])
        ]
        if audit_rows:
            self.warehouse.append_failures(audit_rows)


# A validation's checks, the row count it observed, and its failed checks with their rows.
_Validated = tuple[list[Check], int | None, list[tuple[Check, list[dict[str, Any]]]]]
# The validations of a step's gates so far, by what they ran (Gates.run_days).
_Validations = dict[str, _Validated]


def _scopes(
    suite: Suite, dt: date, window: tuple[date, date]
) -> list[tuple[list[dict[str, Any]], tuple[date, date]]]:
    """A suite's validations for a day: the partition's expectations over dt, the window's
    over its dates; one validation where both read the same rows (a one-day window, a whole
    table)."""
    partition, rest = suite.scoped("partition"), suite.scoped("window")
    if window == (dt, dt) or not suite.partition_column:
        return [(partition + rest, (dt, dt))] if partition + rest else []
    return [
        (configs, dates) for configs, dates in ((partition, (dt, dt)), (rest, window)) if configs
    ]
