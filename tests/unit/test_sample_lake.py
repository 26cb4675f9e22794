"""The sample lake generator: deterministic, self-consistent, and true to its truth files."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from flows.sample import lake as sample_lake
from flows.sample.lake import generate_lake
from flows.sample.spec import FaultRates, LakeSpec

DUMPS = {
    "users": "users.csv",
    "companies": "companies.csv",
    "jobs": "jobs.csv",
    "applications": "applications.parquet",
    "ab_patterns": "ab_patterns.parquet",
}
EVENT_TYPES = ("search", "impression", "click", "apply", "ab_exposure")
PLATFORMS = ("ios", "android", "web")
# Landing's rules (docs/architecture.md), in table order: field -> event types requiring it.
ALWAYS = frozenset(EVENT_TYPES)
FIELDS: dict[str, frozenset[str]] = {
    "event_id": ALWAYS,
    "event_type": ALWAYS,
    "event_time": ALWAYS,
    "user_id": ALWAYS,
    "session_id": ALWAYS,
    "platform": ALWAYS,
    "job_id": frozenset({"impression", "click", "apply"}),
    "algorithm": frozenset({"impression", "click"}),
    "slot": frozenset({"impression", "click"}),
    "ab_test_id": frozenset({"ab_exposure"}),
    "pattern_id": frozenset({"ab_exposure"}),
    "app_version": frozenset(),
}
FORWARD = {
    "applied": {"screening", "rejected", "withdrawn"},
    "screening": {"interview", "rejected", "withdrawn"},
    "interview": {"offer", "rejected", "withdrawn"},
    "offer": {"hired", "rejected", "withdrawn"},
}
START = date(2026, 11, 1)
FAULTY = LakeSpec(
    start=START,
    days=6,
    events_per_day=3_000,
    seed=7,
    faults=FaultRates(duplicate=0.05, late=0.1, too_late=0.03, malformed=0.03),
)


@dataclass(frozen=True)
class Line:
    """One physical line of a lake day's event files, classified like landing does."""

    lake_day: date
    text: str
    reason: str | None
    event: dict[str, Any] | None

    @property
    def event_date(self) -> date:
        assert self.event is not None
        return event_time(self.event).date()


def event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["event_time"])


def classify(text: str, lake_day: date, lateness: int) -> tuple[str | None, dict[str, Any] | None]:
    if not text.strip():
        return "empty_line", None
    try:
        record = json.loads(text)
    except ValueError:
        return "invalid_json", None
    if not isinstance(record, dict):
        return "not_an_object", None
    kind = record.get("event_type")
    for name, required_for in FIELDS.items():
        if record.get(name) is None and kind in required_for:
            return f"missing_field:{name}", None
    for name in FIELDS:
        value = record.get(name)
        if value is not None and not _has_type(name, value):
            return f"bad_type:{name}", None
    if kind not in EVENT_TYPES:
        return "bad_value:event_type", None
    if record["platform"] not in PLATFORMS:
        return "bad_value:platform", None
    day = event_time(record).date()
    if day < lake_day - timedelta(days=lateness):
        return "out_of_window", record
    if day > lake_day:
        return "future_event", record
    return None, record


def _has_type(name: str, value: object) -> bool:
    if name == "slot":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "event_time":
        try:
            event_time({"event_time": value})
        except (TypeError, ValueError):
            return False
        return True
    return isinstance(value, str)


def read_lines(lake: Path, day: date) -> list[str]:
    lines: list[str] = []
    for part in sorted((lake / "events" / f"dt={day.isoformat()}").glob("part-*.jsonl.gz")):
        data = gzip.decompress(part.read_bytes()).decode("utf-8")  # strict: never invalid UTF-8
        if data:
            assert data.endswith("\n")
            lines.extend(data[:-1].split("\n"))
    return lines


def lake_lines(lake: Path, spec: LakeSpec) -> list[Line]:
    result: list[Line] = []
    for offset in range(spec.days):
        day = spec.start + timedelta(days=offset)
        for text in read_lines(lake, day):
            reason, record = classify(text, day, spec.lateness_days)
            result.append(Line(day, text, reason, record))
    return result


def truth(lake: Path, day: date) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (lake / "_truth" / f"dt={day.isoformat()}.json").read_text()
    )
    return loaded


def read_csv(lake: Path, table: str, day: date) -> list[dict[str, str]]:
    path = lake / "dumps" / table / f"dt={day.isoformat()}" / DUMPS[table]
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_parquet(lake: Path, table: str, day: date) -> list[dict[str, Any]]:
    path = lake / "dumps" / table / f"dt={day.isoformat()}" / DUMPS[table]
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def days_of(spec: LakeSpec) -> list[date]:
    return [spec.start + timedelta(days=n) for n in range(spec.days)]


@pytest.fixture(scope="module")
def faulty_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("faulty")
    assert generate_lake(lake, FAULTY) == days_of(FAULTY)
    return lake


@pytest.fixture(scope="module")
def faulty_lines(faulty_lake: Path) -> list[Line]:
    return lake_lines(faulty_lake, FAULTY)


@pytest.fixture(scope="module")
def clean_lines(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    spec = LakeSpec(start=START, days=3, events_per_day=3_000, faults=FaultRates(0, 0, 0, 0))
    lake = tmp_path_factory.mktemp("clean")
    generate_lake(lake, spec)
    return lake_lines(lake, spec)


def test_the_same_spec_writes_byte_identical_files(tmp_path: Path) -> None:
    spec = LakeSpec(start=START, days=4, events_per_day=500, seed=3)
    generate_lake(tmp_path / "a", spec)
    generate_lake(tmp_path / "b", spec)
    first, second = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert first == second
    assert len(first) == 4 * (1 + 2 + 2 * len(DUMPS))  # per day: truth, events + _SUCCESS, dumps


def test_another_seed_writes_other_events(tmp_path: Path) -> None:
    generate_lake(tmp_path / "a", LakeSpec(start=START, days=2, events_per_day=300, seed=1))
    generate_lake(tmp_path / "b", LakeSpec(start=START, days=2, events_per_day=300, seed=2))
    first, second = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert first.keys() == second.keys()
    events = [name for name in first if name.startswith("events/") and name.endswith(".gz")]
    assert events and all(first[name] != second[name] for name in events)


def test_every_partition_and_dump_table_is_marked_complete(faulty_lake: Path) -> None:
    for day in days_of(FAULTY):
        dt = f"dt={day.isoformat()}"
        events = faulty_lake / "events" / dt
        assert (events / "_SUCCESS").read_bytes() == b""
        assert [p.name for p in events.glob("part-*")] == ["part-00000.jsonl.gz"]
        for table, file_name in DUMPS.items():
            folder = faulty_lake / "dumps" / table / dt
            assert sorted(p.name for p in folder.iterdir()) == sorted(["_SUCCESS", file_name])
        assert truth(faulty_lake, day)["dt"] == day.isoformat()


def test_truth_line_counts_match_the_files(faulty_lake: Path, faulty_lines: list[Line]) -> None:
    for day in days_of(FAULTY):
        lines = [line for line in faulty_lines if line.lake_day == day]
        counts = truth(faulty_lake, day)["lake"]["events"]
        quarantined = Counter(line.reason for line in lines if line.reason)
        assert counts["lines"] == len(lines)
        assert counts["lines"] == counts["valid_lines"] + sum(counts["quarantined"].values())
        assert counts["quarantined"] == dict(quarantined)
        assert counts["too_late_lines"] == quarantined["out_of_window"]
        valid = [line for line in lines if line.reason is None]
        assert counts["valid_lines"] == len(valid)
        assert counts["late_lines"] == sum(line.event_date < day for line in valid)
    reasons = {line.reason for line in faulty_lines if line.reason}
    assert {"invalid_json", "out_of_window", "bad_value:event_type", "bad_type:slot"} <= reasons
    assert "future_event" not in reasons and "unreadable_line" not in reasons


def test_malformed_lines_are_dated_within_their_lake_day(faulty_lines: list[Line]) -> None:
    for line in faulty_lines:
        if line.reason in (None, "out_of_window", "empty_line", "invalid_json"):
            continue
        stamp = json.loads(line.text).get("event_time")
        if isinstance(stamp, str) and stamp != "yesterday":
            assert datetime.fromisoformat(stamp).date() == line.lake_day


def test_duplicates_are_exact_copies_counted_in_truth(
    faulty_lake: Path, faulty_lines: list[Line]
) -> None:
    by_id: defaultdict[str, list[Line]] = defaultdict(list)
    for line in faulty_lines:
        if line.event is not None:
            by_id[line.event["event_id"]].append(line)
    copies = sum(len(lines) - 1 for lines in by_id.values())
    assert copies > 0
    assert copies == sum(
        truth(faulty_lake, day)["lake"]["events"]["duplicate_lines"] for day in days_of(FAULTY)
    )
    for lines in by_id.values():
        assert len(lines) <= 2
        assert len({line.text for line in lines}) == 1
        if len(lines) == 2:
            assert 0 <= (lines[1].lake_day - lines[0].lake_day).days <= 1
            assert lines[0].reason is None and lines[1].reason is None


def test_events_by_date_counts_distinct_valid_events(
    faulty_lake: Path, faulty_lines: list[Line]
) -> None:
    for day in days_of(FAULTY):
        seen: set[str] = set()
        expected: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for line in faulty_lines:
            if line.lake_day != day or line.reason is not None or line.event is None:
                continue
            if line.event["event_id"] not in seen:
                seen.add(line.event["event_id"])
                expected[line.event_date.isoformat()][line.event["event_type"]] += 1
        assert truth(faulty_lake, day)["events_by_date"] == {
            event_date: {kind: counts[kind] for kind in EVENT_TYPES}
            for event_date, counts in expected.items()
        }


def test_daily_kpis_count_every_event_of_the_date_in_the_lake(
    faulty_lake: Path, faulty_lines: list[Line]
) -> None:
    events = {
        line.event["event_id"]: line.event
        for line in faulty_lines
        if line.reason is None and line.event is not None
    }
    names = {
        "search": "searches",
        "impression": "impressions",
        "click": "clicks",
        "apply": "applies",
    }
    for day in days_of(FAULTY):
        of_day = [e for e in events.values() if event_time(e).date() == day]
        expected = {}
        for platform in PLATFORMS:
            mine = [e for e in of_day if e["platform"] == platform]
            row = {name: sum(e["event_type"] == kind for e in mine) for kind, name in names.items()}
            row["active_users"] = len({e["user_id"] for e in mine})
            expected[platform] = row
        assert truth(faulty_lake, day)["daily_kpis"] == expected


def test_events_reference_rows_of_that_days_dumps(
    faulty_lake: Path, faulty_lines: list[Line]
) -> None:
    for day in days_of(FAULTY):
        users = {row["user_id"]: row for row in read_csv(faulty_lake, "users", day)}
        jobs = {row["job_id"]: row for row in read_csv(faulty_lake, "jobs", day)}
        companies = {row["company_id"] for row in read_csv(faulty_lake, "companies", day)}
        assert {row["company_id"] for row in jobs.values()} <= companies
        for line in faulty_lines:
            if line.lake_day != day or line.reason is not None or line.event is None:
                continue
            event_date = line.event_date.isoformat()
            assert users[line.event["user_id"]]["signup_date"] <= event_date
            if "job_id" in line.event:
                assert jobs[line.event["job_id"]]["posted_date"] <= event_date


def test_app_version_appears_from_the_drift_date(faulty_lines: list[Line]) -> None:
    drift = FAULTY.drift_date
    assert drift == START + timedelta(days=3)
    valid = [line for line in faulty_lines if line.event is not None]
    before = [line for line in valid if line.event_date < drift]
    after = [line for line in valid if line.event_date >= drift]
    assert before and after
    assert not any("app_version" in line.event for line in before if line.event)
    assert all("app_version" in line.event for line in after if line.event)


def test_applications_move_forward_one_step_a_day(
    faulty_lake: Path, faulty_lines: list[Line]
) -> None:
    applies = {
        "a" + line.event["event_id"][1:]: line.event_date
        for line in faulty_lines
        if line.reason is None and line.event and line.event["event_type"] == "apply"
    }
    previous: dict[str, dict[str, Any]] = {}
    for day in days_of(FAULTY):
        current = {
            row["application_id"]: row for row in read_parquet(faulty_lake, "applications", day)
        }
        assert previous.keys() <= current.keys()
        for app_id, row in current.items():
            before = previous.get(app_id)
            if before is None:
                assert row["status"] == "applied"
                assert row["applied_at"].date() == day == row["status_updated_at"].date()
            elif row["status"] != before["status"]:
                assert row["status"] in FORWARD[before["status"]]
                assert row["status_updated_at"].date() == day
            else:
                assert row["status_updated_at"] == before["status_updated_at"]
        assert {a for a, d in applies.items() if d <= day} <= current.keys()
        previous = current
    assert {row["status"] for row in previous.values()} >= {"applied", "screening", "rejected"}


def test_dumps_change_between_days(faulty_lake: Path) -> None:
    first, last = START, days_of(FAULTY)[-1]
    for table in ("users", "jobs", "companies"):
        before = {tuple(row.values()) for row in read_csv(faulty_lake, table, first)}
        after = {tuple(row.values()) for row in read_csv(faulty_lake, table, last)}
        assert before - after and after - before, table
    patterns = read_parquet(faulty_lake, "ab_patterns", last)
    assert {p["ab_test_id"] for p in patterns} == {"t01", "t02"}
    assert not all(p["is_active"] for p in patterns)


def test_parquet_dumps_use_real_column_types(faulty_lake: Path) -> None:
    dt = f"dt={START.isoformat()}"
    apps = pq.read_schema(faulty_lake / "dumps/applications" / dt / "applications.parquet")
    assert str(apps.field("applied_at").type) == "timestamp[ms]"
    assert str(apps.field("status_updated_at").type) == "timestamp[ms]"
    patterns = pq.read_schema(faulty_lake / "dumps/ab_patterns" / dt / "ab_patterns.parquet")
    assert str(patterns.field("is_active").type) == "bool"
    assert str(patterns.field("started_date").type) == "date32[day]"


def test_sessions_follow_exposure_search_impression_click_apply(clean_lines: list[Line]) -> None:
    sessions: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in clean_lines:
        assert line.reason is None and line.event is not None
        sessions[line.event["session_id"]].append(line.event)
    for events in sessions.values():
        shown = first_time(events, "impression")
        clicked = first_time(events, "click")
        for e in events:
            key = (e.get("job_id"), e.get("slot"))
            if e["event_type"] == "click":
                assert shown[key] < event_time(e)
            if e["event_type"] == "apply":
                assert clicked[key] < event_time(e)
        exposures = [event_time(e) for e in events if e["event_type"] == "ab_exposure"]
        if exposures and shown:
            assert max(exposures) < min(shown.values())


def first_time(events: list[dict[str, Any]], kind: str) -> dict[tuple[Any, Any], datetime]:
    """The earliest time of each (job, slot) for events of one kind."""
    first: dict[tuple[Any, Any], datetime] = {}
    for e in events:
        if e["event_type"] == kind:
            key = (e["job_id"], e["slot"])
            first[key] = min(first.get(key, event_time(e)), event_time(e))
    return first


def test_click_through_falls_with_the_slot(clean_lines: list[Line]) -> None:
    counts: Counter[tuple[str, bool]] = Counter()
    for line in clean_lines:
        assert line.event is not None
        if line.event["event_type"] in ("impression", "click"):
            counts[line.event["event_type"], line.event["slot"] <= 3] += 1
    top = counts["click", True] / counts["impression", True]
    bottom = counts["click", False] / counts["impression", False]
    assert top > 1.5 * bottom


def test_part_files_hold_at_most_the_maximum_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = LakeSpec(start=START, days=1, events_per_day=1_200, weekly=(1.0,) * 7)  # no weekday dip
    monkeypatch.setattr(sample_lake, "MAX_LINES_PER_PART", 500)
    generate_lake(tmp_path, spec)
    folder = tmp_path / "events" / f"dt={START.isoformat()}"
    parts = sorted(folder.glob("part-*.jsonl.gz"))
    assert [p.name for p in parts] == [f"part-{n:05d}.jsonl.gz" for n in range(len(parts))]
    sizes = [len(gzip.decompress(p.read_bytes()).splitlines()) for p in parts]
    assert len(parts) >= 3 and max(sizes) == 500
    assert sum(sizes) == truth(tmp_path, START)["lake"]["events"]["lines"]
    monkeypatch.setattr(sample_lake, "MAX_LINES_PER_PART", 500_000)
    generate_lake(tmp_path, spec)  # regenerating replaces the partition: no stale parts
    assert [p.name for p in folder.glob("part-*")] == ["part-00000.jsonl.gz"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"days": 0}, "days"),
        ({"events_per_day": 0}, "events_per_day"),
        ({"lateness_days": -1}, "lateness_days"),
        ({"start": "2026-11-01"}, "start"),
    ],
)
def test_lake_spec_rejects_bad_values(changes: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"start": START, "days": 1, "events_per_day": 10} | changes
    with pytest.raises(ValueError, match=message):
        LakeSpec(**arguments)


@pytest.mark.parametrize("rates", [{"duplicate": 1.0}, {"late": -0.1}, {"malformed": 2}])
def test_fault_rates_must_be_shares(rates: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(rates))):
        FaultRates(**rates)
