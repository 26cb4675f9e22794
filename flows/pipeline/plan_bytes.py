"""The bytes a plan's dbt models will read, as BigQuery bills them on demand, and their price.

A plan runs each dbt layer once per batch of its contiguous lake days (flows/pipeline/plan.py
`batches`); each table or incremental model of the layer is one query reading the stored
relations, dates and columns flows/project/model_reads.py derives. Offline (any warehouse), a
read's bytes are BigQuery's logical sizes (flows/warehouse/logical_size.py) of those columns
on those dates, measured in the warehouse with one aggregate query per relation: a date the
relation holds counts as it is; a date it does not hold yet is scaled from the lake's file sizes
of that lake day by the bytes per lake byte of the relation's latest held dates. BigQuery bills
at least 10 MB (MiB) for every table a query references. On real BigQuery, a dry run of each
model's compiled SQL replaces the estimate (flows/pipeline/plan_scan.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from flows.errors import PlanOverBudget
from flows.lake.layout import Lake
from flows.pipeline.plan import PlannedDay, batches
from flows.project.lake_tables import LakeTable
from flows.project.manifest import RAW_LAYER, Project
from flows.project.model_reads import ModelReads, StoredRead, run_models
from flows.warehouse.interface import Warehouse
from flows.warehouse.logical_size import TIB, SizesByDate, human_bytes

MIN_BILLED = 10 * 1024**2  # BigQuery's minimum per table referenced by an on-demand query
SAMPLE_DATES = 7  # the latest held dates of a relation that scale the dates it lacks
_LOOK_BACK = timedelta(days=30)  # how far before a read the sample is looked for
OFFLINE_METHOD = (
    "bytes: offline estimate, BigQuery logical sizes of the columns each model's SQL reads over "
    f"its declared read dates; dates not in the warehouse scaled from lake file sizes by its "
    f"latest {SAMPLE_DATES} dates; at least 10 MiB per table a query references"
)


@dataclass(frozen=True)
class ModelRun:
    """One query of the plan: a model built for the lake days of one batch."""

    layer: str
    model: str
    days: tuple[date, ...]


@dataclass(frozen=True)
class ModelBytes:
    """What one model run reads: logical bytes, and the bytes billed (minimums applied)."""

    run: ModelRun
    logical: int
    billed: int


@dataclass(frozen=True)
class PlanBytes:
    """The bytes of every model run of a plan, how they were found, and the price per TiB."""

    method: str
    runs: tuple[ModelBytes, ...]
    price_per_tib: float
    unknown: tuple[str, ...] = field(default=())  # relations not built yet (estimate is low)

    @property
    def billed(self) -> int:
        return sum(r.billed for r in self.runs)

    @property
    def logical(self) -> int:
        return sum(r.logical for r in self.runs)

    def price(self, count: int) -> float:
        """The on-demand price of `count` bytes."""
        return count / TIB * self.price_per_tib

    def per_day(self) -> dict[date, int]:
        """Billed bytes per lake day: a batch's queries shared evenly by its days."""
        shares: dict[date, int] = defaultdict(int)
        for run in self.runs:
            each, rest = divmod(run.billed, len(run.run.days))
            for i, day in enumerate(run.run.days):
                shares[day] += each + (1 if i < rest else 0)
        return dict(sorted(shares.items()))

    def per_model(self) -> list[tuple[str, int]]:
        """Billed bytes per model over the whole plan, the most expensive first."""
        totals: dict[str, int] = defaultdict(int)
        for run in self.runs:
            totals[run.run.model] += run.billed
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    def describe(self, count: int) -> str:
        """`1.2 GiB ($0.0073)`."""
        return f"{human_bytes(count)} (${self.price(count):,.4f})"


def model_runs(project: Project, planned: list[PlannedDay]) -> list[ModelRun]:
    """Every query the plan's dbt steps run, batch by batch, as run_partitions runs them."""
    steps = project.steps
    found = []
    for days, first in batches([(p.dt, p.from_layer) for p in planned]):
        for layer in steps[steps.index(first or steps[0]) :]:
            if layer == RAW_LAYER:
                continue  # landing loads files: no query reads a table
            for model in run_models(project, layer):
                found.append(ModelRun(layer, model, tuple(days)))
    return found


def billed(reads: dict[StoredRead, int]) -> int:
    """The bytes one query is billed for reading these relations (each at least MIN_BILLED)."""
    return sum(max(size, MIN_BILLED) for size in reads.values())


class ReadSizes:
    """Logical bytes of stored reads, from the warehouse (one query per relation) and the lake."""

    def __init__(self, warehouse: Warehouse, lake: Lake, lake_tables: tuple[LakeTable, ...]):
        self.warehouse = warehouse
        self.lake = lake
        self.lake_tables = {t.name: t for t in lake_tables}
        self.sizes: dict[tuple[str, str], SizesByDate | None] = {}
        self._lake_bytes: dict[tuple[str, date], int] = {}

    def load(self, reads: list[StoredRead]) -> None:
        """Measure every relation of `reads` once, over the dates they read and a look back."""
        spans: dict[tuple[str, str], tuple[StoredRead, date, date]] = {}
        columns: dict[tuple[str, str], set[str]] = defaultdict(set)
        for read in reads:
            columns[read.relation] |= read.columns
            # a whole read (no dates) needs every date of the relation
            first, last = read.dates or (date.min + _LOOK_BACK, date.max)
            seen = spans.get(read.relation)
            if seen is not None:
                first, last = min(first, seen[1]), max(last, seen[2])
            spans[read.relation] = (read, first, last)
        for relation, (read, first, last) in sorted(spans.items()):
            self.sizes[relation] = self.warehouse.logical_sizes(
                relation, sorted(columns[relation]), read.date_column, first - _LOOK_BACK, last
            )

    def lake_bytes(self, tables: frozenset[str], day: date) -> int:
        """The lake's file bytes of lake day `day` of these tables (0 where absent)."""
        total = 0
        for name in sorted(tables):
            key = (name, day)
            if key not in self._lake_bytes:
                table = self.lake_tables.get(name)
                size = 0
                if table is not None and self.lake.exists(table, day):
                    size = sum(entry[1] for entry in self.lake.entries(table, day))
                self._lake_bytes[key] = size
            total += self._lake_bytes[key]
        return total

    def estimate(self, read: StoredRead) -> int | None:
        """The logical bytes of one read (None: the relation does not exist yet)."""
        held = self.sizes.get(read.relation)
        if held is None:
            return None
        if read.dates is None:
            return sum(s.bytes_of(read.columns) for s in held.values())
        per_lake_byte = self._per_lake_byte(read, held)
        total = 0.0
        day, last = read.dates
        while day <= last:
            sizes = held.get(day)
            if sizes is not None:
                total += sizes.bytes_of(read.columns)
            else:
                total += per_lake_byte * self.lake_bytes(read.lake_tables, day)
            day += timedelta(days=1)
        return round(total)

    def _per_lake_byte(self, read: StoredRead, held: SizesByDate) -> float:
        """Logical bytes of the read's columns per lake byte, over the latest held dates."""
        dates = sorted(d for d in held if d is not None)[-SAMPLE_DATES:]
        lake = sum(self.lake_bytes(read.lake_tables, d) for d in dates)
        measured = sum(held[d].bytes_of(read.columns) for d in dates)
        return measured / lake if lake else 0.0


def offline_bytes(
    reads: ModelReads, sizes: ReadSizes, runs: list[ModelRun], price_per_tib: float
) -> PlanBytes:
    """The plan's bytes estimated offline (see the module text)."""
    planned = {run: reads.of(run.model, run.days[0], run.days[-1]) for run in runs}
    sizes.load([read for found in planned.values() for read in found])
    measured, unknown = [], set()
    for run, found in planned.items():
        per_read: dict[StoredRead, int] = {}
        for read in found:
            size = sizes.estimate(read)
            if size is None:
                unknown.add(".".join(read.relation))
            per_read[read] = size or 0
        measured.append(ModelBytes(run, sum(per_read.values()), billed(per_read)))
    return PlanBytes(OFFLINE_METHOD, tuple(measured), price_per_tib, tuple(sorted(unknown)))


def check_budget(found: PlanBytes, max_bytes: int | None) -> None:
    """Refuse a plan whose billed bytes pass `max_bytes` (None: no budget), naming the most
    expensive models."""
    if max_bytes is None or found.billed <= max_bytes:
        return
    top = ", ".join(f"{model} {human_bytes(size)}" for model, size in found.per_model()[:3])
    raise PlanOverBudget(
        f"the plan reads {found.describe(found.billed)}, over the budget of "
        f"{human_bytes(max_bytes)} (--max-bytes / SLUICE_MAX_BYTES); most expensive: {top}; "
        "nothing ran: narrow the range or raise the budget"
    )
