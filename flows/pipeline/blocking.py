"""Which models of a step must not run: they would read, or overwrite, what a gate refused.

Every attempt of a step records, per relation, whether it published it or not and why
(details `published` and `refused`). For a relation and one of its dates, the attempts that
cover the date are those whose window held it (a raw table: its lake day; a whole table: every
date). A date is *readable* when the latest blocked-or-succeeded attempt covering it published
it (failed attempts changed nothing: their writes were restored); the step's own earlier builds
(its layer, its lake days) do not count, since it rebuilds them first. A date is *held* when the
latest attempt that decided it — published it, or refused it by the relation's own checks —
refused it. A model of this step is blocked when the dates it reads of an upstream (its window
widened by `meta.reads`, flows/project/reads.py; a view passes the reading on to what it reads)
hold an unreadable one, or when its own window would rewrite a date its own checks refused on
another lake day (only a run of that day may re-check it). Within the step, a model that reads
a blocked one is blocked too. An operator's acceptance of a day (`sluice accept`) takes that
day's attempts out of the picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flows.project.manifest import RAW_LAYER, Project
from flows.project.reads import Upstream
from flows.state.ledger import Attempt, Reason, Status


@dataclass(frozen=True)
class Refusal:
    """A relation's date a lake day's step did not publish, and why."""

    day: date
    layer: str
    name: str
    reason: str


@dataclass(frozen=True)
class Block:
    """A model of this step that must not run, and the refusal it would read or overwrite."""

    model: str
    refusal: Refusal
    overwrites: bool = False

    def describe(self) -> str:
        r = self.refusal
        verb = "would rewrite dates of" if self.overwrites else "reads"
        return f"{self.model} {verb} {r.name} refused on {r.day} ({r.layer}): {r.reason}"


@dataclass(frozen=True)
class _Build:
    """What one attempt did to one relation."""

    finished: datetime
    day: date
    published: bool
    reason: str  # why not published ('' when published)

    @property
    def decisive(self) -> bool:
        """Published, or refused by the relation's own checks (not because of another's)."""
        return self.published or self.reason.startswith(Reason.GATE_FAILED)


def _builds(
    project: Project, latest: dict[tuple[date, str], Attempt], accepted: set[tuple[date, str]]
) -> dict[tuple[str, str], list[_Build]]:
    """(layer, relation) -> its builds by the latest succeeded or blocked attempt of each day."""
    found: dict[tuple[str, str], list[_Build]] = {}
    for (day, layer), attempt in latest.items():
        if attempt.status not in (Status.SUCCEEDED, Status.BLOCKED) or (day, layer) in accepted:
            continue
        names = [table.name for table in project.tables(layer)]
        if layer != RAW_LAYER:
            names = project.models_in(layer)
        refused = attempt.details.get("refused")
        if refused is None:  # an attempt recorded before per-relation details: all or nothing
            refused = (
                {}
                if attempt.status == Status.SUCCEEDED
                else dict.fromkeys(names, Reason.GATE_FAILED)
            )
        finished = attempt.finished_at or attempt.started_at
        for name in names:
            why = str(refused.get(name, ""))
            found.setdefault((layer, name), []).append(_Build(finished, day, not why, why))
    for builds in found.values():
        builds.sort(key=lambda b: b.finished)
    return found


class Blocker:
    """Finds the models of a step that would read or overwrite a refused date."""

    def __init__(
        self,
        project: Project,
        latest: dict[tuple[date, str], Attempt],
        accepted: set[tuple[date, str]],
    ) -> None:
        self.project = project
        self.builds = _builds(project, latest, accepted)

    def including(self, layer: str, refused: dict[date, dict[str, str]], now: datetime) -> Blocker:
        """This blocker, as if the given days had just refused these relations of `layer`."""
        widened = Blocker.__new__(Blocker)
        widened.project = self.project
        widened.builds = {key: list(builds) for key, builds in self.builds.items()}
        for day, names in refused.items():
            for name, why in names.items():
                widened.builds.setdefault((layer, name), []).append(_Build(now, day, False, why))
        return widened

    def _covers(
        self, layer: str, name: str, kind: str, build: _Build, dates: tuple[date, date] | None
    ) -> bool:
        """Whether the build's window of the relation meets `dates` (None: every date)."""
        if dates is None or kind == "table":
            return True
        if kind == "source" or layer == RAW_LAYER:
            written = (build.day, build.day)
        else:
            written = self.project.window(name).bounds(build.day)
        return dates[0] <= written[1] and written[0] <= dates[1]

    def _unreadable(
        self, upstream: Upstream, dates: tuple[date, date] | None, step: tuple[str, list[date]]
    ) -> Refusal | None:
        """A refusal that leaves a date of `dates` unreadable, if any (the latest covering
        build of each date decides; whole tables have one date). Earlier builds of this step's
        own layer and lake days do not count: the step rebuilds them before anything reads."""
        layer, days = step
        builds = [
            b
            for b in self.builds.get((upstream.layer, upstream.name), [])
            if not (upstream.layer == layer and b.day in days)
        ]
        covering = [
            b
            for b in builds
            if self._covers(upstream.layer, upstream.name, upstream.kind, b, dates)
        ]
        if not covering:
            return None
        if upstream.kind == "table" or dates is None:
            last = covering[-1]
            return (
                None
                if last.published
                else Refusal(last.day, upstream.layer, upstream.name, last.reason)
            )
        for day in _days(dates):
            on_day = [
                b
                for b in covering
                if self._covers(upstream.layer, upstream.name, upstream.kind, b, (day, day))
            ]
            if on_day and not on_day[-1].published:
                last = on_day[-1]
                return Refusal(last.day, upstream.layer, upstream.name, last.reason)
        return None

    def _reads(
        self,
        model: str,
        dates: tuple[date, date] | None,
        step: tuple[str, list[date]],
        depth: int = 0,
    ) -> Refusal | None:
        """The first unreadable date `model` meets when it reads `dates`' worth of its upstreams."""
        for upstream in self.project.upstreams(model):
            read = upstream.reach.dates(dates) if dates is not None else None
            if upstream.kind in ("view", "ephemeral") and depth < 20:
                found = self._reads(upstream.name, read, step, depth + 1)
            else:
                found = self._unreadable(upstream, read, step)
            if found:
                return found
        return None

    def _overwrites(self, layer: str, model: str, days: list[date]) -> Refusal | None:
        """A date of the model's window that its own checks refused on another lake day."""
        window = self.project.window(model).bounds(days[0], days[-1])
        builds = [b for b in self.builds.get((layer, model), []) if b.decisive]
        for day in _days(window):
            covering = [
                b for b in builds if self._covers(layer, model, "incremental", b, (day, day))
            ]
            last = covering[-1] if covering else None
            if last is not None and not last.published and last.day not in days:
                return Refusal(last.day, layer, model, last.reason)
        return None

    def blocked(self, layer: str, days: list[date]) -> dict[str, Block]:
        """The models of `layer` that must not run for lake days `days`, with what blocks each."""
        if layer == RAW_LAYER:
            return {}  # landing reads only the lake
        found: dict[str, Block] = {}
        names = self.project.models_in(layer)
        stored = {table.name: table for table in self.project.tables(layer)}
        for name in names:
            window = self.project.window(name).bounds(days[0], days[-1])
            refusal = self._reads(name, window, (layer, days))
            if refusal:
                found[name] = Block(name, refusal)
            elif name in stored and stored[name].partition_column:
                own = self._overwrites(layer, name, days)
                if own:
                    found[name] = Block(name, own, overwrites=True)
        changed = True
        while changed:  # a model of the layer that reads a blocked one is blocked too
            changed = False
            for name in names:
                if name in found:
                    continue
                parent = next(
                    (u.name for u in self.project.upstreams(name) if u.name in found), None
                )
                if parent:
                    found[name] = Block(name, found[parent].refusal)
                    changed = True
        return found


def _days(dates: tuple[date, date]) -> list[date]:
    first, last = dates
    return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]
