"""The worker image and the Kubernetes work pool template: the Dockerfile passes hadolint (and
hadolint does flag a bad one), and the job template renders, as the Kubernetes worker renders
it, into a valid batch/v1 Job whose every placeholder is a declared variable (fast, offline)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from kubernetes_asyncio.client import ApiClient
from prefect.client.schemas.objects import FlowRun
from prefect.server.schemas.actions import WorkPoolCreate
from prefect_kubernetes.worker import KubernetesWorker, KubernetesWorkerJobConfiguration

from flows.settings import PROJECT_DIR

HADOLINT = Path(sys.executable).parent / "hadolint"
TEMPLATE = PROJECT_DIR / "deploy" / "kubernetes-job-template.json"
PLACEHOLDER = re.compile(r"\{\{\s*([^\s{}]+)\s*\}\}")
# What a deployment of the pool must give (the template's required variables).
VALUES = {
    "image": "registry.invalid/sluice-worker:0123abc",
    "sluice_bq_project": "analytics-prod",
    "sluice_lake": "gs://sluice-lake/app",
}


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_worker_dockerfile_passes_hadolint() -> None:
    result = _hadolint(PROJECT_DIR / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_unpinned_packages_and_cd_in_run(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:3.11-slim-bookworm\n"
        "RUN apt-get update && apt-get install -y git\n"
        "RUN cd /tmp && touch marker\n"
    )
    result = _hadolint(bad)
    assert result.returncode == 1
    assert "DL3008" in result.stdout  # apt-get install without versions
    assert "DL3003" in result.stdout  # cd instead of WORKDIR


def test_the_image_installs_the_lock_as_a_non_root_user_with_telemetry_off() -> None:
    text = (PROJECT_DIR / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text
    assert "UV_COMPILE_BYTECODE=1" in text
    for setting in (
        "DO_NOT_TRACK=1",
        "PREFECT_SERVER_ANALYTICS_ENABLED=false",
        "GX_ANALYTICS_ENABLED=false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS=false",
    ):
        assert setting in text, setting
    users = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
    assert users == ["10001:10001"]  # the last USER is who runs flows: not root
    ignored = (PROJECT_DIR / ".dockerignore").read_text().split()
    assert {"data", "target", "logs", ".venv", ".venv-*", ".git", "sluice.toml"} <= set(ignored)


def _template() -> dict[str, Any]:
    template: dict[str, Any] = json.loads(TEMPLATE.read_text())
    return template


def _placeholders(value: Any) -> set[str]:
    """Names of every {{ placeholder }} in a JSON value."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return {name for item in value.values() for name in _placeholders(item)}
    if isinstance(value, list):
        return {name for item in value for name in _placeholders(item)}
    return set()


def undeclared_placeholders(template: dict[str, Any]) -> set[str]:
    """Placeholders of the job configuration that the variables schema does not declare."""
    declared = set(template["variables"]["properties"])
    return _placeholders(template["job_configuration"]) - declared


def test_every_placeholder_of_the_job_template_is_a_declared_variable() -> None:
    template = _template()
    used = _placeholders(template["job_configuration"])
    assert undeclared_placeholders(template) == set()
    # and every variable is used: a template that lost its placeholders would fail here
    assert used == set(template["variables"]["properties"])
    assert len(used) == 23
    assert set(template["variables"]["required"]) <= set(template["variables"]["properties"])
    # what the Prefect server checks when `prefect work-pool create` sends the template
    WorkPoolCreate(name="sluice-k8s", type="kubernetes", base_job_template=template)


def test_a_misspelt_placeholder_is_undeclared() -> None:
    template = _template()
    spec = template["job_configuration"]["job_manifest"]["spec"]
    spec["ttlSecondsAfterFinished"] = "{{ finished_job_tl }}"
    assert undeclared_placeholders(template) == {"finished_job_tl"}
    with pytest.raises(ValueError, match="finished_job_tl"):
        WorkPoolCreate(name="sluice-k8s", type="kubernetes", base_job_template=template)


def test_the_worker_variables_the_template_relies_on_exist_in_the_workers_template() -> None:
    default = KubernetesWorker.get_default_base_job_template()
    ours = _template()
    theirs = default["variables"]["properties"]
    relied = {name for name in ours["variables"]["properties"] if not name.startswith("sluice_")}
    assert len(relied) == 17
    assert relied - set(theirs) == set()
    for name in relied:  # a value ours accepts, the worker accepts too
        assert _json_types(ours["variables"]["properties"][name]) <= _json_types(theirs[name])
    assert set(ours["job_configuration"]) - set(default["job_configuration"]) == set()


def _json_types(schema: dict[str, Any]) -> set[str]:
    options = schema.get("anyOf", [schema])
    return {str(option.get("type", "ref")) for option in options}


def render(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The Job manifest the Kubernetes worker would submit for a flow run of the pool."""

    async def configure() -> KubernetesWorkerJobConfiguration:
        # A client is needed only for block and variable references; the template has none.
        return await KubernetesWorkerJobConfiguration.from_template_and_values(
            template, values, client=object()
        )

    configuration = asyncio.run(configure())
    configuration.prepare_for_flow_run(FlowRun(flow_id=uuid4(), name="steady-heron"))
    manifest: dict[str, Any] = configuration.job_manifest
    return manifest


def as_v1_job(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest read into the kubernetes client's V1Job and written back: a key the model
    does not know is dropped, a wrong type or a missing required field raises."""

    async def round_trip() -> dict[str, Any]:
        async with ApiClient() as api:
            job = api._ApiClient__deserialize(manifest, "V1Job")  # type: ignore[attr-defined]
            written: dict[str, Any] = api.sanitize_for_serialization(job)
            return written

    return asyncio.run(round_trip())


def test_the_rendered_job_is_a_valid_v1_job_that_kubernetes_never_retries() -> None:
    manifest = render(_template(), VALUES)
    assert as_v1_job(manifest) == manifest
    assert manifest["spec"]["backoffLimit"] == 0  # Sluice's ledger retries, not Kubernetes
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 86400
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == VALUES["image"]
    assert container["args"] == ["prefect", "flow-run", "execute"]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    env = {item["name"]: item for item in container["env"]}
    assert env["SLUICE_BQ_PROJECT"]["value"] == "analytics-prod"
    assert env["SLUICE_LAKE"]["value"] == "gs://sluice-lake/app"
    assert "PREFECT__FLOW_RUN_ID" in env  # the worker's own variables are still added


def test_the_state_url_and_the_bigquery_key_come_from_kubernetes_secrets() -> None:
    manifest = render(_template(), VALUES)
    pod = manifest["spec"]["template"]["spec"]
    env = {item["name"]: item for item in pod["containers"][0]["env"]}
    assert "value" not in env["SLUICE_STATE"]
    assert env["SLUICE_STATE"]["valueFrom"] == {
        "secretKeyRef": {"name": "sluice-state", "key": "url"}
    }
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["bigquery-key"]["secret"]["secretName"] == "sluice-bigquery-key"
    mounts = {mount["name"]: mount for mount in pod["containers"][0]["volumeMounts"]}
    key_dir = mounts["bigquery-key"]["mountPath"]
    assert mounts["bigquery-key"]["readOnly"] is True
    assert env["SLUICE_BQ_KEYFILE"]["value"] == f"{key_dir}/key.json"
    assert pod["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize(
    ("path", "key", "misspelt"),
    [
        (("spec",), "ttlSecondsAfterFinished", "ttlSecondAfterFinished"),
        (("spec", "template", "spec"), "restartPolicy", "restartpolicy"),
    ],
)
def test_a_misspelt_manifest_key_is_not_a_v1_job(
    path: tuple[str, ...], key: str, misspelt: str
) -> None:
    broken = render(_template(), VALUES)
    where = broken
    for step in path:
        where = where[step]
    where[misspelt] = where.pop(key)
    assert as_v1_job(broken) != broken
