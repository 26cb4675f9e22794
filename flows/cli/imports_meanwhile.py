"""Import a flow command's heavy modules while its temporary Prefect server starts.

Starting the server waits on a subprocess for several seconds; importing Great Expectations,
dbt and the flows takes as long again, on the process's own core. Doing the imports in a
background thread during that wait overlaps the two. The thread is joined before the command
goes on, so no import runs in two threads once the block is left.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# what `sluice run`, `backfill` and `retry-failed` import on their way: the flows, the dbt
# runner of a layer build, and the gates' Great Expectations (as the gates import it)
FLOW_MODULES = ("flows.pipeline.prefect_flows", "dbt.cli.main", "flows.gates.gx_import")


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the command's own import raises it again, where it belongs
            return


@contextmanager
def imports_meanwhile(modules: tuple[str, ...] = FLOW_MODULES) -> Iterator[None]:
    """Import `modules` in a background thread while the block runs; wait for them after it.

    A module that fails to import here is left out of sys.modules, so the command's own import
    of it raises the error where it belongs.
    """
    thread = threading.Thread(
        target=_import_all, args=(modules,), name="sluice-imports", daemon=True
    )
    thread.start()
    yield  # when the block fails (or Ctrl-C), the command ends: no need to wait for imports
    thread.join()
