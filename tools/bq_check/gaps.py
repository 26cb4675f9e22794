"""The committed list of BigQuery-emulator gaps (bq_gaps.yml): what the emulator lacks, and why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flows.errors import ProjectError

GAPS_FILE = "bq_gaps.yml"


@dataclass(frozen=True)
class Gap:
    """One known gap: the emulator's error text, a statement that shows it, and the reason."""

    id: str
    kind: str  # emulator (the emulator lacks it) or sluice (Sluice lacks it on BigQuery)
    reason: str
    match: str | None = None
    probe: str | None = None
    workaround: str | None = None
    probe_dry_run: bool = False  # the probe is sent as a dry run (QueryJobConfig(dry_run=True))


def load_gaps(project_dir: Path) -> tuple[Gap, ...]:
    """Read bq_gaps.yml; raise ProjectError naming the entry that is incomplete."""
    path = project_dir / GAPS_FILE
    try:
        entries: Any = (yaml.safe_load(path.read_text()) or {}).get("gaps") or []
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}") from exc
    gaps = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("reason"):
            raise ProjectError(f"{path}: gap #{number} needs an id and a reason")
        kind = entry.get("kind", "emulator")
        if kind not in ("emulator", "sluice"):
            raise ProjectError(f"{path}: gap {entry['id']}: kind must be emulator or sluice")
        if entry.get("probe") and not entry.get("match"):
            raise ProjectError(f"{path}: gap {entry['id']}: a probe needs the error text (match)")
        gaps.append(
            Gap(
                id=str(entry["id"]),
                kind=kind,
                reason=" ".join(str(entry["reason"]).split()),
                match=entry.get("match"),
                probe=entry.get("probe"),
                workaround=entry.get("workaround"),
                probe_dry_run=bool(entry.get("probe_dry_run", False)),
            )
        )
    return tuple(gaps)


def known_gap(gaps: tuple[Gap, ...], message: str) -> Gap | None:
    """The listed gap whose error text occurs in message, if any."""
    lowered = message.lower()
    for gap in gaps:
        if gap.match and gap.match.lower() in lowered:
            return gap
    return None
