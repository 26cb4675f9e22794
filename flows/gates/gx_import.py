"""Great Expectations, imported without running scipy.stats until a check needs it.

GX imports scipy.stats at its own import, for the KL-divergence and KS-test expectations
alone: 0.8-1.0 s of the 2.9-3.8 s the import took (measured on a 2-core machine, 2026-12-07),
paid by every flow command and every gate. Here scipy.stats is a lazy module first: its code
runs at the first use of one of its names, so a suite with one of those expectations still
works, and a process that never validates one never runs it.
"""

from __future__ import annotations

import importlib.util
import sys


def _lazy(name: str) -> None:
    """Put a lazy module `name` in sys.modules (and on its package), unless it is imported."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # imports its package, a few milliseconds for scipy
    if spec is None or spec.loader is None:
        return  # not installed: GX's own import says so
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    package, _, child = name.rpartition(".")
    # `from scipy import stats` then finds the attribute, not the import system, which would
    # read the module's spec and so run it
    setattr(sys.modules[package], child, module)


_lazy("scipy.stats")

# after the lazy module, which is the point: the gates import GX from here only
import great_expectations as gx  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.expectation_configuration import (  # noqa: E402
    ExpectationConfiguration,
)

__all__ = ["ExpectationConfiguration", "ProgressBarsConfig", "gx"]
