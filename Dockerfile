# syntax=docker/dockerfile:1
# The Sluice worker image: what a Kubernetes flow-run job of the pool `sluice-k8s` runs
# (deploy/kubernetes-job-template.json; README "Running on a cluster"). Linted by `make lint`
# (hadolint); never built here: there is no Docker daemon on the development machine.
#
#   docker build -t <registry>/sluice-worker:<git sha> \
#     --build-arg SLUICE_BQ_PROJECT=<gcp project> .
#
# No secret is read at build or stored in the image: the state store's URL and the BigQuery
# key reach a flow run from Kubernetes secrets.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# uv at the version the Makefile pins; the locked dependencies only (`--frozen`: uv.lock as
# committed, never re-resolved). The worker needs no extra: `dev` and `bench` are tooling.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (their layer is rebuilt only when the lock changes), then the project.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
# uv compiles what it installs; the project itself is installed editable (the flows run from
# /app, as prefect.yaml's pull step says), so its own modules are compiled here.
RUN uv sync --frozen --no-dev \
    && /app/.venv/bin/python -m compileall -q flows

FROM ${PYTHON_IMAGE}
# Telemetry off, as in the Makefile: nothing in a flow run contacts the internet unasked.
ENV DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    GX_ANALYTICS_ENABLED=false \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    SLUICE_PROJECT_DIR=/app \
    SLUICE_TARGET=bigquery
RUN useradd --create-home --uid 10001 --user-group sluice
WORKDIR /app
# The code and its venv belong to root: a flow run can read them, not change them. It writes
# only dbt's target/ and logs/ and data/ (run reports; a bucket lake's day being landed).
COPY --from=build /app /app
RUN mkdir -p /app/data /app/target /app/logs \
    && chown 10001:10001 /app/data /app/target /app/logs
USER 10001:10001

# The flows parse the dbt project in-process at the start of every run (no manifest file is
# read); dbt keeps its parse in target/ and reuses it when the files, vars, target and the
# profile's values are the same. Parsing here as a flow run does makes that first parse a
# partial one in every container (16 s -> 9 s including imports, measured on the 2-core
# development machine) when the build args equal the pool's values; with others, or none,
# the run parses in full and the build still proves the project parses.
ARG SLUICE_BQ_PROJECT=sluice-unset-project
ARG SLUICE_BQ_LOCATION=US
ARG SLUICE_BQ_DATASET=sluice
RUN SLUICE_BQ_PROJECT="${SLUICE_BQ_PROJECT}" SLUICE_BQ_LOCATION="${SLUICE_BQ_LOCATION}" \
    SLUICE_BQ_DATASET="${SLUICE_BQ_DATASET}" \
    python -c "from flows.pipeline.workspace import warm_parse; warm_parse()"

# A Prefect worker replaces the command with the flow run's; run by hand, the image shows
# the command line.
CMD ["sluice", "--help"]
