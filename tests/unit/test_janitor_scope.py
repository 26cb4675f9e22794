"""The janitor's idea of Sluice's flows is exactly the flows prefect.yaml deploys."""

from __future__ import annotations

import importlib

import yaml

from flows.ops.janitor import sluice_flows
from flows.settings import PROJECT_DIR


def test_sluice_flows_are_the_flows_of_the_deployments() -> None:
    deployments = yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text())["deployments"]
    deployed = set()
    for deployment in deployments:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        deployed.add(getattr(module, name).name)
    assert len(deployed) >= 5
    assert sorted(sluice_flows()) == sorted(deployed)
