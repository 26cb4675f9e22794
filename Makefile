# Sluice — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
DEMO_START ?= 2026-11-01
DEMO_DAYS ?= 7
DEMO_EVENTS ?= 20000

# Nothing may try the internet: telemetry off for every tool.
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Every flow run imports Great Expectations, dbt and Prefect: keep their compiled bytecode even
# where the environment turns writing it off, or every process compiles them again (a one-day
# backfill took 95-105 s without it, 66 s with it, measured on one machine on 2026-12-05).
unexport PYTHONDONTWRITEBYTECODE

PREFECT_PORT ?= 4200
export SLUICE_PROJECT_DIR := $(CURDIR)

.PHONY: help install demo test test-suite test-lane bq-check-then-lint test-fast lint clean serve deploy docs pr-check browser postgres schemas bq-venvs bq-check bench bench-1m soak

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --inexact --extra dev --quiet
	touch $@

# Prefect's temporary server migrates a new database before it answers, which on a busy machine
# can outlast its start-up timeout: migrate the project's PREFECT_HOME (data/prefect) ahead.
PREFECT_DB := data/prefect/prefect.db

$(PREFECT_DB): $(VENV)/.installed
	mkdir -p $(@D)
	PREFECT_HOME=$(CURDIR)/data/prefect $(BIN)/prefect server database upgrade -y > /dev/null
	touch $@

install: $(VENV)/.installed $(PREFECT_DB) ## create .venv, install the locked dependencies, migrate Prefect's database

demo: install ## generate a 7-day sample lake under data/ and run the daily pipeline for each day
	rm -rf data/lake data/warehouse.duckdb data/warehouse.state.sqlite
	$(BIN)/sluice lake generate --start $(DEMO_START) --days $(DEMO_DAYS) --events-per-day $(DEMO_EVENTS)
	$(BIN)/sluice backfill --start $(DEMO_START) --end $$(date -d "$(DEMO_START) + $$(( $(DEMO_DAYS) - 1 )) days" +%F)

serve: install ## run a local Prefect server (127.0.0.1, SQLite under data/prefect) and a worker
	$(BIN)/sluice server --port $(PREFECT_PORT)

# `sluice server` keeps its API URL and auth string in the Prefect profile sluice-local of
# data/prefect (profiles.toml, mode 0600): Prefect's own commands use it with --profile.
PREFECT_LOCAL := PREFECT_HOME=$(CURDIR)/data/prefect $(BIN)/prefect --profile sluice-local

deploy: install ## register the deployments of prefect.yaml with the server of `make serve` (its auth profile)
	$(PREFECT_LOCAL) work-pool create sluice --type process --overwrite
	$(PREFECT_LOCAL) --no-prompt deploy --all

# The dbt templater of sqlfluff compiles the project, and dbt parse writes a manifest: both get
# a throwaway DuckDB file and target path under target/lint, so linting never opens data/.
LINT_DIR := target/lint
LINT_ENV := SLUICE_DUCKDB=$(CURDIR)/$(LINT_DIR)/lint.duckdb SLUICE_TARGET=dev
# `make lint SQL_PATHS=models/x.sql` lints only the given files (the SQL lint tests do).
SQL_PATHS := models tests/dbt
SQLFLUFF_FORMAT ?= human

lint: install ## secrets scan, YAML, the worker's Dockerfile (hadolint), dbt parse, descriptions, quality gates, SQL style (sqlfluff), ruff, mypy
	@mkdir -p $(LINT_DIR)
	$(BIN)/python -m tools.secrets_scan
	$(BIN)/yamllint --strict .
	$(BIN)/hadolint Dockerfile
	$(LINT_ENV) $(BIN)/dbt parse --profiles-dir . --target-path $(LINT_DIR) --quiet
	$(BIN)/python -m tools.docs_check --manifest $(LINT_DIR)/manifest.json
	$(LINT_ENV) $(BIN)/python -m tools.suites_check
	$(LINT_ENV) $(BIN)/sqlfluff lint $(SQL_PATHS) --format $(SQLFLUFF_FORMAT)
	$(LINT_ENV) $(BIN)/sqlfluff lint $(SQL_PATHS) --format $(SQLFLUFF_FORMAT) --config .sqlfluff-rendered
	$(BIN)/ruff check flows tools tests benchmarks
	$(BIN)/mypy

test-fast: install postgres ## the quick inner loop (under a minute): unit tests, no dbt runs (a throwaway PostgreSQL for the state store)
	$(BIN)/pytest -q -x tests/unit

# Two lanes on the two cores, each target's output printed whole when it ends: pytest but the
# unit tests (the longest), and the BigQuery check (mostly one core) followed by lint and the
# unit tests, which that lane has time for (pytest's lane ended 2-2.5 minutes after it on
# 2026-12-07). Debian's packages are installed first, one apt at a time (two at once fail on
# dpkg's lock); the venvs then install side by side (.venv beside the emulator's and
# analyzer's, which the suite's BigQuery test needs too). pytest: one file per worker, so a
# module's fixtures build once.
test: ## everything CI checks (README's test command)
	$(MAKE) --no-print-directory browser postgres
	$(MAKE) --no-print-directory -j2 --output-sync=target test-lane bq-check-then-lint

PYTEST_WORKERS := $(BIN)/pytest -q -n 2 --dist loadfile --durations=30

test-suite: install browser postgres bq-venvs ## the whole pytest suite (make test runs its unit tests after bq-check and lint)
	$(PYTEST_WORKERS)

test-lane: install browser postgres bq-venvs
	$(PYTEST_WORKERS) --ignore=tests/unit

bq-check-then-lint: bq-check
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-fast

# The BigQuery emulator and the GoogleSQL analyzer pin versions that conflict with ours:
# each gets its own venv, installed from PyPI by pip. The analyzer's WebAssembly module is
# compiled once here and kept in its venv (zetasql_worker.py --warm), not in every check.
CRUCIBLE_VERSION := 0.1.0a2
ZETASQL_VERSION := 0.1.5
BQ_EMULATOR_VENV := .venv-bq-emulator
ZETASQL_VENV := .venv-zetasql

$(BQ_EMULATOR_VENV)/.installed: Makefile
	test -x $(BQ_EMULATOR_VENV)/bin/python || $(PYTHON) -m venv $(BQ_EMULATOR_VENV)
	$(BQ_EMULATOR_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		'crucible-emulator[server]==$(CRUCIBLE_VERSION)'
	touch $@

$(ZETASQL_VENV)/.installed: Makefile
	test -x $(ZETASQL_VENV)/bin/python || $(PYTHON) -m venv $(ZETASQL_VENV)
	$(ZETASQL_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		'zetasql==$(ZETASQL_VERSION)'
	$(ZETASQL_VENV)/bin/python tools/bq_check/zetasql_worker.py --warm
	touch $@

bq-venvs: $(BQ_EMULATOR_VENV)/.installed $(ZETASQL_VENV)/.installed ## the emulator's and the analyzer's own venvs

bq-check: install bq-venvs postgres ## BigQuery offline: emulator build + re-run, every flow, ZetaSQL analysis, BigQuery parse
	$(BIN)/python -m tools.bq_check

SOAK_KILLS ?= 20
SOAK_FUZZ ?= 300

soak: install ## crash soak (SOAK_KILLS seeded SIGKILLs, then re-runs) and SOAK_FUZZ fuzzed lakes; prints tallies
	SLUICE_KILLS=$(SOAK_KILLS) SLUICE_SOAK_DAYS=2 SLUICE_FUZZ_EXAMPLES=$(SOAK_FUZZ) \
		$(BIN)/pytest -q -s tests/integration/test_crash_safety.py \
		tests/integration/test_crash_safety_second_chunk.py tests/integration/test_fuzzed_lakes.py

DOCS_PORT ?= 8080

docs: install ## dbt docs of the warehouse into target/ (+ static_index.html, column lineage), served on 127.0.0.1
	$(BIN)/dbt docs generate --profiles-dir . --static --vars '{build_schema_suffix: ""}'
	$(BIN)/sluice lineage --docs target
	-$(BIN)/python -m tools.docs_check --manifest target/manifest.json --catalog target/catalog.json
	@echo "static single-file docs: $(CURDIR)/target/static_index.html"
	$(BIN)/dbt docs serve --profiles-dir . --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

PR_BASE ?= main
PR_PARENTS ?= sample

pr-check: install ## review what a change since PR_BASE does to the data (target/pr-review.md): lineage, build, diff, gates
	$(BIN)/python -m tools.pr_check --base $(PR_BASE) --parents $(PR_PARENTS)

browser: ## install Debian's chromium (the docs browser test needs it) if it is missing
	@command -v chromium >/dev/null 2>&1 || { \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	@chromium --version

# The tests start their own throwaway server from these binaries (tools/postgres_server.py):
# 127.0.0.1 on a free port, a data folder under /tmp, removed at the end.
postgres: ## install Debian's PostgreSQL server (the state store tests start one) if it is missing
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }
	@ls -d /usr/lib/postgresql/*/bin

schemas: install ## regenerate schemas/incident.v1.json from the Incident model (a unit test compares them)
	$(BIN)/python -m flows.alerts.incidents > schemas/incident.v1.json

BENCH_SCALE ?= 0.1

bench: install ## ratio benchmarks -> benchmarks/results.json + README table (BENCH_SCALE=1: 1M events a day)
	$(BIN)/uv sync --frozen --inexact --extra dev --extra bench --quiet
	rm -rf target/bench/places
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python -m benchmarks

# The questions whose goals are asked at 1M events a day, on the cached 8-day lake (generated
# once under target/bench/lakes) with its 7 days built again from the current code.
bench-1m: install ## pipeline_vs_plain_sql and publish_share at 1M events a day -> results.json (after `make bench`)
	rm -rf target/bench/places/_main-*-1000000e
	BENCH_SCALE=1 BENCH_REPS=2 $(BIN)/python -m benchmarks bench_pipeline_vs_plain_sql bench_publish_share

clean: ## remove generated files (keeps .venv)
	rm -rf target logs data .pytest_cache .mypy_cache .ruff_cache
