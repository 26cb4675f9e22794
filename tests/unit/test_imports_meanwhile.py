"""The flow command's heavy modules load in a thread while the server starts, and are all
loaded (or fail where they are used) once the block is left."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.cli.imports_meanwhile import FLOW_MODULES, imports_meanwhile


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("sluice_probe_")]:
        del sys.modules[name]


def test_the_modules_are_imported_in_another_thread_and_loaded_after_the_block(
    modules: Path,
) -> None:
    (modules / "sluice_probe_first.py").write_text(
        "import threading\nTHREAD = threading.current_thread().name\n"
    )
    (modules / "sluice_probe_second.py").write_text("VALUE = 42\n")
    with imports_meanwhile(("sluice_probe_first", "sluice_probe_second")):
        pass
    assert sys.modules["sluice_probe_first"].THREAD == "sluice-imports"
    assert sys.modules["sluice_probe_second"].VALUE == 42


def test_a_module_that_fails_raises_where_the_command_imports_it(modules: Path) -> None:
    (modules / "sluice_probe_broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    (modules / "sluice_probe_after.py").write_text("VALUE = 1\n")
    with imports_meanwhile(("sluice_probe_broken", "sluice_probe_after")):
        pass
    assert "sluice_probe_broken" not in sys.modules
    with pytest.raises(RuntimeError, match="broken on purpose"):
        importlib.import_module("sluice_probe_broken")


def test_the_flow_modules_name_importable_packages() -> None:
    for name in FLOW_MODULES:
        assert importlib.util.find_spec(name) is not None, name


def test_great_expectations_comes_without_running_scipy_stats_which_still_works_when_used() -> None:
    """GX imports scipy.stats for two kinds of expectation the project's suites do not use:
    through flows.gates.gx_import its code runs only when one of its names is first used."""
    probe = """
import sys
from flows.gates.gx_import import ExpectationConfiguration, gx
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
print(gx.__name__, "scipy.stats._stats_py" in sys.modules, type(kl.stats).__name__)
print(round(float(kl.stats.entropy([0.5, 0.5], [0.25, 0.75])), 6))
print("scipy.stats._stats_py" in sys.modules, kl.stats is sys.modules["scipy.stats"])
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split("\n") == [
        "great_expectations False _LazyModule",
        "0.143841",  # the KL divergence of (1/2, 1/2) from (1/4, 3/4)
        "True True",
        "",
    ]
