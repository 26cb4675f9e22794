"""Records the warehouse returns: what landing did, what a sweep found, what ops publishing sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flows.lake.layout import LakeFile


@dataclass(frozen=True)
class TableLanding:
    """What landing one table's partition did."""

    table: str
    files: tuple[LakeFile, ...]
    lines: int
    landed: int
    quarantined: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionLanding:
    """What landing one lake day did, per table."""

    dt: date
    tables: tuple[TableLanding, ...]

    @property
    def lines(self) -> int:
        return sum(t.lines for t in self.tables)

    @property
    def landed(self) -> int:
        return sum(t.landed for t in self.tables)

    @property
    def quarantined(self) -> int:
        return sum(sum(t.quarantined.values()) for t in self.tables)

    def quarantined_by_table(self) -> dict[str, dict[str, int]]:
        """Quarantined lines per table and reason, for tables that had any."""
        return {t.table: t.quarantined for t in self.tables if t.quarantined}


@dataclass(frozen=True)
class Sweep:
    """One kind of record the janitor cleans: where, which, and how many."""

    what: str
    where: str
    rule: str
    count: int

    @classmethod
    def unused_audit_relations(
        cls, unused: list[tuple[str, str]], audit_schemas: frozenset[str]
    ) -> Sweep:
        """The audit copies of relations that no model builds any more (either warehouse)."""
        names = ", ".join(f"{schema}.{name}" for schema, name in unused)
        where = names or ", ".join(sorted(audit_schemas)) or "no audit schema"
        return cls("unused audit relations", where, "not built", len(unused))


@dataclass(frozen=True)
class Published:
    """What one publish of the state store sent: rows per table sent, tables unchanged."""

    dataset: str
    rows: dict[str, int]
    unchanged: tuple[str, ...]
    seconds: float

    def describe(self) -> str:
        parts = [f"{table} {n} rows" for table, n in self.rows.items()]
        parts += [f"{table} unchanged" for table in self.unchanged]
        return f"published the state store to {self.dataset}: {', '.join(parts)}" + (
            f" in {self.seconds:.1f} s"
        )
