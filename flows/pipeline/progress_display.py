"""Showing a run's progress: a rich bar on a terminal, else one line per finished step through
the Prefect run logger (inside a flow run) or on stderr."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import IO, Protocol

from prefect import get_run_logger
from prefect.context import FlowRunContext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flows.pipeline.progress import Ended, RunProgress, StepDone, line, time_left


class _Show(Protocol):
    def started(self, layer: str, days: Sequence[date], progress: RunProgress) -> None: ...

    def finished(self, step: StepDone, progress: RunProgress) -> None: ...


class _Lines:
    """One line per finished step (workers, CI, a redirected terminal)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit

    def started(self, layer: str, days: Sequence[date], progress: RunProgress) -> None:
        pass

    def finished(self, step: StepDone, progress: RunProgress) -> None:
        self.emit(line(step, progress))


class _Bar:
    """A rich progress bar: done/total, elapsed, time left, and the step running."""

    def __init__(self, bar: Progress, progress: RunProgress) -> None:
        self.bar = bar
        self.task = bar.add_task("starting", total=progress.total, left=time_left(progress.left()))

    def started(self, layer: str, days: Sequence[date], progress: RunProgress) -> None:
        span = str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]}"
        self.bar.update(self.task, description=f"{layer} {span}")

    def finished(self, step: StepDone, progress: RunProgress) -> None:
        left = time_left(progress.left())
        self.bar.update(self.task, completed=progress.done, left=left)


class _Silent:
    def started(self, layer: str, days: Sequence[date], progress: RunProgress) -> None:
        pass

    def finished(self, step: StepDone, progress: RunProgress) -> None:
        pass


class Reporter:
    """Told when a step starts and ends for its lake days; counts them and shows the count."""

    def __init__(self, progress: RunProgress, show: _Show) -> None:
        self.progress = progress
        self.show = show
        self._began = time.perf_counter()

    def started(self, layer: str, days: Sequence[date]) -> None:
        self._began = time.perf_counter()
        self.show.started(layer, days, self.progress)

    def finished(self, layer: str, days: Sequence[date], ended: Ended) -> None:
        """The step last started ended for these days."""
        self._done(StepDone(layer, tuple(days), ended, time.perf_counter() - self._began))

    def skipped(self, layer: str, days: Sequence[date]) -> None:
        self._done(StepDone(layer, tuple(days), Ended.SKIPPED, 0.0))

    def _done(self, step: StepDone) -> None:
        self.progress.finish(step)
        self.show.finished(step, self.progress)


def _emit(text: str) -> None:
    if FlowRunContext.get() is not None:
        get_run_logger().info(text)
    else:
        print(text, file=sys.stderr, flush=True)


def _point(handler: logging.StreamHandler[IO[str]], stream: IO[str]) -> None:
    handler.setStream(stream)
    console = getattr(handler, "console", None)  # Prefect's handler prints through rich
    if isinstance(console, Console):
        console.file = stream


@contextmanager
def _logs_above(stream: IO[str]) -> Iterator[None]:
    """Log handlers writing to the terminal write through the bar's console while it shows
    (Prefect's keep the stderr they were made with), so their lines stay above the bar."""
    terminal = sys.__stderr__
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    moved = [
        handler
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is terminal
    ]
    for handler in moved:
        _point(handler, stream)
    try:
        yield
    finally:
        for handler in moved:
            if terminal is not None:
                _point(handler, terminal)


@contextmanager
def showing(progress: RunProgress) -> Iterator[Reporter]:
    """A reporter for the run: a bar on a terminal (not for a single unit), lines elsewhere."""
    if not sys.stderr.isatty():
        yield Reporter(progress, _Lines(_emit))
        return
    if progress.total <= 1:
        yield Reporter(progress, _Silent())
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left {task.fields[left]}"),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar, _logs_above(sys.stderr):
        yield Reporter(progress, _Bar(bar, progress))
