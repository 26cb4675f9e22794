"""Generate a deterministic sample lake: app events with delivery faults, daily dumps, truth files.

Same LakeSpec, same bytes: one seed feeds independent random streams (dimensions, events,
applications, faults, file layout), gzip headers carry no time or name, and ids are a seeded
bijection of counters, so they are unique without a lookup. See docs/architecture.md for the
layout; `flows.sample_truth` counts what is written into `_truth/dt=D.json`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import shutil
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import ClassVar, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from flows.sample_truth import TruthLedger

MAX_LINES_PER_PART = 500_000
SUCCESS_MARKER = "_SUCCESS"
# Reasons landing gives the junk lines, with their relative frequency.
MALFORMED_REASONS = (
    ("invalid_json", 30),
    ("missing_field:event_id", 4),
    ("missing_field:event_time", 8),
    ("missing_field:user_id", 8),
    ("missing_field:session_id", 5),
    ("bad_type:event_time", 10),
    ("bad_type:user_id", 7),
    ("bad_type:slot", 8),
    ("bad_value:event_type", 15),
    ("empty_line", 5),
)
_MALFORMED_CUM = tuple(accumulate(weight for _, weight in MALFORMED_REASONS))
_DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1).toordinal()
_GZIP_LEVEL = 6
_SHUFFLE_BLOCK = 64
_MASK48 = (1 << 48) - 1
_TERMINAL = frozenset({"hired", "rejected", "withdrawn"})
# status -> (next status, daily chance of moving there); any open status may also end
# rejected (6 %) or withdrawn (2 %) on a day
_PIPELINE = {
    "applied": ("screening", 0.35),
    "screening": ("interview", 0.3),
    "interview": ("offer", 0.25),
    "offer": ("hired", 0.5),
}
_PLATFORMS = (("ios", 48), ("android", 34), ("web", 18))
_APP_VERSIONS = {"ios": ("5.2.0", "5.3.0"), "android": ("5.2.1", "5.3.1"), "web": ("2026.11.0",)}
_REGIONS = tuple(
    zip(
        ("tokyo", "osaka", "nagoya", "fukuoka", "sapporo", "sendai", "hiroshima", "kyoto", "kobe"),
        (38, 17, 10, 9, 7, 6, 5, 5, 3),
        strict=True,
    )
)
# occupation, job titles (commas on purpose: CSV quoting), base annual salary in yen
_OCCUPATIONS = (
    ("engineer", ("Backend Engineer", "Frontend Engineer", "Data Engineer"), 6_000_000),
    ("designer", ("Product Designer", "Graphic Designer"), 5_000_000),
    ("sales", ("Sales Representative", "Account Executive, SMB"), 4_500_000),
    ("nurse", ("Registered Nurse", "Nurse, night shift"), 4_800_000),
    ("driver", ("Delivery Driver", "Taxi Driver"), 3_800_000),
    ("accountant", ("Accountant", "Payroll Specialist"), 5_000_000),
    ("teacher", ("English Teacher", "Cram School Tutor"), 4_200_000),
    ("cook", ("Line Cook", "Sushi Chef"), 3_200_000),
    ("marketer", ("Growth Marketer", "Content Marketer"), 4_800_000),
    ("support", ("Customer Support, Japanese/English", "Help Desk Agent"), 3_500_000),
)
_LEVELS = ("", "", "Junior ", "Senior ", "Lead ")
_SURNAMES: tuple[str, ...] = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito")
_SURNAMES += ("Yamamoto", "Nakamura", "Kato", "Ōta", "Kōno", "Saitō")  # non-ASCII: CSVs are UTF-8
_COMPANY_KINDS = ("Logistics", "Foods", "Systems", "Care", "Retail", "Design", "Motors", "Clinic")
_COMPANY_SUFFIXES = ("", "", " Co., Ltd.", " K.K.", ' "Next"', " Holdings")
_INDUSTRIES = ("logistics", "food", "it", "healthcare", "retail", "manufacturing", "education")
_BANDS = ("1-9", "10-49", "50-249", "250-999", "1000+")
_ALGORITHMS = ("popular", "collab", "content")
_ALGORITHM_CUM = (0.4, 0.75, 1.0)
# click-through rate by algorithm and slot (index 0 unused): falls with the slot
_CTR = tuple(tuple(base / max(slot, 1) ** 0.7 for slot in range(11)) for base in (0.07, 0.11, 0.09))
_APPLY_RATE = 0.14
_AB_SHARES = (("t01", 0.3), ("t02", 0.25))
# UTC hours 0..22 (sessions last under an hour, so none crosses midnight); users are in Japan
_HOUR_CUM = tuple(
    accumulate((9, 10, 10, 12, 10, 8, 7, 6, 6, 8, 10, 12, 13, 12, 9, 6, 4, 3, 2, 2, 2, 3, 5))
)


@dataclass(frozen=True)
class FaultRates:
    """How often deliveries go wrong; each rate is a share in [0, 1)."""

    duplicate: float = 0.02
    late: float = 0.05
    too_late: float = 0.005
    malformed: float = 0.01

    def __post_init__(self) -> None:
        for name in ("duplicate", "late", "too_late", "malformed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise ValueError(f"fault rate {name} must be a number in [0, 1), got {value!r}")
        if self.late + self.too_late >= 1:
            raise ValueError(f"late + too_late must be below 1, got {self.late + self.too_late}")


@dataclass(frozen=True)
class LakeSpec:
    """What to generate: event dates and lake days start .. start + days - 1."""

    start: date
    days: int
    events_per_day: int
    seed: int = 42
    lateness_days: int = 3
    drift_from: date | None = None
    faults: FaultRates = field(default_factory=FaultRates)

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise ValueError(f"start must be a date, got {self.start!r}")
        if self.drift_from is not None and (
            isinstance(self.drift_from, datetime) or not isinstance(self.drift_from, date)
        ):
            raise ValueError(f"drift_from must be a date or None, got {self.drift_from!r}")
        for name, low in (("days", 1), ("events_per_day", 1), ("lateness_days", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not isinstance(self.faults, FaultRates):
            raise ValueError(f"faults must be a FaultRates, got {self.faults!r}")

    @property
    def drift_date(self) -> date:
        """First event date whose events carry `app_version`."""
        return self.drift_from or self.start + timedelta(days=self.days // 2)


def generate_lake(out: Path, spec: LakeSpec) -> list[date]:
    """Write the sample lake of `spec` under `out`; return the lake days written, oldest first."""
    root = random.Random(spec.seed)  # noqa: S311 - reproducible sample data, not security
    dims, events, apps, faults, layout = (random.Random(root.getrandbits(64)) for _ in range(5))  # noqa: S311
    ids = _Ids(root.getrandbits(48), root.getrandbits(48))
    ledger = TruthLedger(spec.start, spec.days)
    world = _initial_world(spec, dims)
    delivery = _Delivery(spec, ledger, faults)
    simulator = _EventSimulator(world, events, ids, delivery)
    written: list[date] = []
    for index in range(spec.days):
        day = spec.start + timedelta(days=index)
        _evolve_dimensions(world, day, dims)
        _advance_applications(world, day, apps)
        context = _day_context(world, index, day)
        simulator.simulate_day(context)
        ledger.record_dumps(index, _write_dumps(out, day, world))
        on_time, later = delivery.take(index)
        junk = _malformed_lines(world, context, ids, faults, ledger)
        lines = _lay_out(on_time, later + junk, layout)
        _write_events(out / "events" / f"dt={day.isoformat()}", lines)
        ledger.write(out, index)
        written.append(day)
    return written


# ---- ids and time --------------------------------------------------------------------------


def _mix48(counter: int, key: int) -> int:
    """A bijection of 48-bit integers (xor, odd multiplies, xor-shifts): distinct in, out."""
    x = ((counter ^ key) * 0x9E3779B97F4B) & _MASK48
    x ^= x >> 23
    x = (x * 0xC2B2AE3D27D5) & _MASK48
    return x ^ (x >> 21)


class _Ids:
    """Unique event and session ids; junk lines count from 2**47 so they never meet events."""

    def __init__(self, event_key: int, session_key: int) -> None:
        self._event_key, self._session_key = event_key, session_key
        self._events, self._junk, self._sessions = 0, 1 << 47, 0

    def event(self) -> str:
        self._events += 1
        return f"e{_mix48(self._events, self._event_key):012x}"

    def junk_event(self) -> str:
        self._junk += 1
        return f"e{_mix48(self._junk, self._event_key):012x}"

    def session(self) -> str:
        self._sessions += 1
        return f"s{_mix48(self._sessions, self._session_key):012x}"


def _day_ms(day: date) -> int:
    return (day.toordinal() - _EPOCH) * _DAY_MS


def _clock(ms_of_day: int) -> str:
    seconds, milli = divmod(ms_of_day, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{milli:03d}"


def _iso_ms(ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` of a UTC epoch-millisecond timestamp."""
    days, rest = divmod(ms, _DAY_MS)
    return f"{date.fromordinal(_EPOCH + days).isoformat()}T{_clock(rest)}Z"


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[int(rng.random() * len(options))]


# ---- the app database ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    ab_test_id: str
    pattern_id: str
    description: str
    started: date
    ended: date | None
    apply_lift: float

    def is_active(self, day: date) -> bool:
        return self.started <= day and (self.ended is None or day < self.ended)


class _CsvRecord(Protocol):
    def row(self) -> tuple[str, ...]: ...


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(slots=True)
class _User:
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "user_id",
        "signup_date",
        "region",
        "occupation_preference",
        "is_active",
        "updated_at",
    )

    user_id: str
    signup_date: date
    region: str
    occupation: str
    is_active: bool
    updated_ms: int
    platform: str
    patterns: tuple[_Pattern, ...]

    def row(self) -> tuple[str, ...]:
        return (
            self.user_id,
            self.signup_date.isoformat(),
            self.region,
            self.occupation,
            _flag(self.is_active),
            _iso_ms(self.updated_ms),
        )


@dataclass(slots=True)
class _Company:
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "company_id",
        "company_name",
        "industry",
        "employee_band",
        "updated_at",
    )

    company_id: str
    name: str
    industry: str
    band: int
    updated_ms: int

    def row(self) -> tuple[str, ...]:
        return (
            self.company_id,
            self.name,
            self.industry,
            _BANDS[self.band],
            _iso_ms(self.updated_ms),
        )


@dataclass(slots=True)
class _Job:
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "job_id",
        "company_id",
        "title",
        "occupation",
        "salary_min",
        "salary_max",
        "is_open",
        "posted_date",
        "updated_at",
    )

    job_id: str
    company_id: str
    title: str
    occupation: str
    salary_min: int
    salary_max: int
    is_open: bool
    posted_date: date
    updated_ms: int

    def row(self) -> tuple[str, ...]:
        return (
            self.job_id,
            self.company_id,
            self.title,
            self.occupation,
            str(self.salary_min),
            str(self.salary_max),
            _flag(self.is_open),
            self.posted_date.isoformat(),
            _iso_ms(self.updated_ms),
        )


@dataclass(slots=True)
class _Application:
    application_id: str
    user_id: str
    job_id: str
    applied_ms: int
    status: str
    status_ms: int


@dataclass
class _World:
    """The app database as of the end of the day being generated."""

    spec: LakeSpec
    patterns: tuple[_Pattern, ...]
    base_users: int
    base_jobs: int
    users: list[_User] = field(default_factory=list)
    companies: list[_Company] = field(default_factory=list)
    jobs: list[_Job] = field(default_factory=list)
    applications: list[_Application] = field(default_factory=list)
    pending: list[_Application] = field(default_factory=list)
    applied_pairs: set[tuple[str, str]] = field(default_factory=set)

    def add_application(self, event_id: str, user_id: str, job_id: str, applied_ms: int) -> None:
        app = _Application("a" + event_id[1:], user_id, job_id, applied_ms, "applied", applied_ms)
        self.applications.append(app)
        self.pending.append(app)
        self.applied_pairs.add((user_id, job_id))


def _ab_patterns(spec: LakeSpec) -> tuple[_Pattern, ...]:
    t01 = spec.start - timedelta(days=14)
    t02 = spec.start + timedelta(days=spec.days // 3)
    t01p3_end = spec.start + timedelta(days=max(1, 2 * spec.days // 3))
    return (
        _Pattern("t01", "t01p1", "control: current ranking", t01, None, 1.0),
        _Pattern("t01", "t01p2", "apply button above the fold", t01, None, 1.35),
        _Pattern("t01", "t01p3", "salary hidden until click", t01, t01p3_end, 0.8),
        _Pattern("t02", "t02p1", "control: weekly job digest", t02, None, 1.0),
        _Pattern("t02", "t02p2", "daily job digest", t02, None, 1.2),
    )


def _initial_world(spec: LakeSpec, rng: random.Random) -> _World:
    """The database before the first day, sized so ~14 events per session meet events_per_day."""
    sessions = max(1, spec.events_per_day // 14)
    world = _World(spec, _ab_patterns(spec), max(40, 2 * sessions), max(30, sessions // 4))
    for n in range(1, max(5, world.base_jobs // 12) + 1):
        since = _day_ms(spec.start) - int(rng.uniform(30, 700) * _DAY_MS)
        name = _pick(rng, _SURNAMES) + " " + _pick(rng, _COMPANY_KINDS)
        name += _pick(rng, _COMPANY_SUFFIXES)
        world.companies.append(
            _Company(f"c{n:04d}", name, _pick(rng, _INDUSTRIES), int(rng.random() * 5), since)
        )
    for _ in range(world.base_jobs):
        _add_job(world, spec.start - timedelta(days=1 + int(rng.random() * 180)), rng)
    for _ in range(world.base_users):
        _add_user(world, spec.start - timedelta(days=1 + int(rng.random() ** 2 * 730)), rng)
    return world


def _add_user(world: _World, signup: date, rng: random.Random) -> None:
    patterns: list[_Pattern] = []
    for test_id, share in _AB_SHARES:
        if rng.random() < share:
            options = [p for p in world.patterns if p.ab_test_id == test_id]
            patterns.append(options[int(rng.random() * len(options))])
    world.users.append(
        _User(
            f"u{len(world.users) + 1:06d}",
            signup,
            _weighted(rng, _REGIONS),
            _pick(rng, tuple(o for o, _, _ in _OCCUPATIONS)),
            rng.random() < 0.97,
            _day_ms(signup) + int(rng.random() * _DAY_MS),
            _weighted(rng, _PLATFORMS),
            tuple(patterns),
        )
    )


def _add_job(world: _World, posted: date, rng: random.Random) -> None:
    occupation, titles, base = _OCCUPATIONS[int(rng.random() * len(_OCCUPATIONS))]
    salary_min = round(base * rng.uniform(0.75, 1.25) / 10_000) * 10_000
    company = world.companies[int(rng.random() * len(world.companies))]
    world.jobs.append(
        _Job(
            f"j{len(world.jobs) + 1:05d}",
            company.company_id,
            _pick(rng, _LEVELS) + _pick(rng, titles),
            occupation,
            salary_min,
            salary_min + 10_000 * (50 + int(rng.random() * 250)),
            rng.random() < 0.95 or posted >= world.spec.start,
            posted,
            _day_ms(posted) + int(rng.random() * _DAY_MS),
        )
    )


def _evolve_dimensions(world: _World, day: date, rng: random.Random) -> None:
    """Today's changes to rows that existed yesterday, then today's new users and jobs."""

    def at() -> int:
        return _day_ms(day) + int(rng.random() * _DAY_MS)

    for _ in range(max(1, world.base_users // 400)):
        user = world.users[int(rng.random() * len(world.users))]
        if rng.random() < 0.6:  # a move: the region always differs, so the row really changes
            user.region = _weighted(rng, tuple(r for r in _REGIONS if r[0] != user.region))
        else:
            user.is_active = not user.is_active
        user.updated_ms = at()
    for _ in range(max(1, len(world.companies) // 40)):
        company = world.companies[int(rng.random() * len(world.companies))]
        grows = company.band == 0 or (company.band < len(_BANDS) - 1 and rng.random() < 0.7)
        company.band += 1 if grows else -1
        company.updated_ms = at()
    for _ in range(max(1, world.base_jobs // 120)):
        job = world.jobs[int(rng.random() * len(world.jobs))]
        if job.is_open:
            job.is_open, job.updated_ms = False, at()
    for _ in range(max(1, world.base_jobs // 200)):
        job = world.jobs[int(rng.random() * len(world.jobs))]
        if not job.is_open:
            continue
        raise_by = 10_000 * (10 + int(rng.random() * 40))
        job.salary_min, job.salary_max, job.updated_ms = (
            job.salary_min + raise_by,
            job.salary_max + raise_by,
            at(),
        )
    for _ in range(max(1, world.base_users // 250)):
        _add_user(world, day, rng)
    for _ in range(max(1, world.base_jobs // 100)):
        _add_job(world, day, rng)


def _advance_applications(world: _World, day: date, rng: random.Random) -> None:
    """Move each open application at most one step: forward, or to rejected / withdrawn."""
    still_open: list[_Application] = []
    for app in world.pending:
        r = rng.random()
        if r < 0.06:
            app.status = "rejected"
        elif r < 0.08:
            app.status = "withdrawn"
        elif r < 0.08 + _PIPELINE[app.status][1]:
            app.status = _PIPELINE[app.status][0]
        else:
            still_open.append(app)
            continue
        app.status_ms = _day_ms(day) + int(rng.random() * _DAY_MS)
        if app.status not in _TERMINAL:
            still_open.append(app)
    world.pending = still_open


# ---- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Day:
    """What the events of one event date may reference."""

    index: int
    day_ms: int
    prefix: str
    open_jobs: tuple[_Job, ...]
    jobs_by_occupation: dict[str, tuple[_Job, ...]]
    active_patterns: frozenset[str]
    drifted: bool


@dataclass(frozen=True)
class _Actor:
    user: _User
    platform: str
    fields: str  # the user_id, session_id and platform members of every line
    tail: str  # the app_version member after the schema drift, else ""


def _day_context(world: _World, index: int, day: date) -> _Day:
    open_jobs = tuple(job for job in world.jobs if job.is_open)
    by_occupation: dict[str, list[_Job]] = {}
    for job in open_jobs:
        by_occupation.setdefault(job.occupation, []).append(job)
    return _Day(
        index,
        _day_ms(day),
        f"{day.isoformat()}T",
        open_jobs,
        {occupation: tuple(jobs) for occupation, jobs in by_occupation.items()},
        frozenset(p.pattern_id for p in world.patterns if p.is_active(day)),
        day >= world.spec.drift_date,
    )


class _Delivery:
    """Decides the lake day(s) each event line is delivered in and files it there."""

    def __init__(self, spec: LakeSpec, ledger: TruthLedger, rng: random.Random) -> None:
        self._rng, self._ledger, self._days = rng, ledger, spec.days
        self._lateness = spec.lateness_days
        self._too_late = spec.faults.too_late
        self._late = self._too_late + (spec.faults.late if spec.lateness_days else 0.0)
        self._duplicate = spec.faults.duplicate
        self._on_time: list[str] = []
        self._later: list[list[str]] = [[] for _ in range(spec.days)]

    def deliver(
        self, event_day: int, event_type: str, user_id: str, platform: str, line: str
    ) -> None:
        rng = self._rng
        r = rng.random()
        if r < self._too_late:
            day = event_day + self._lateness + 1 + int(rng.random() * 3)
            self._file(event_day, day, line)
            self._ledger.record_too_late(day)
            return
        day = event_day + 1 + int(rng.random() * self._lateness) if r < self._late else event_day
        copy = -1
        if rng.random() < self._duplicate:
            copy = day if day - event_day >= self._lateness or rng.random() < 0.5 else day + 1
        self._file(event_day, day, line)
        if copy >= 0:
            self._file(event_day, copy, line)
        self._ledger.record_event(event_day, event_type, user_id, platform, day, copy)

    def _file(self, event_day: int, day: int, line: str) -> None:
        if day == event_day:
            self._on_time.append(line)
        elif day < self._days:
            self._later[day].append(line)

    def take(self, day: int) -> tuple[list[str], list[str]]:
        """The lines delivered on lake `day`: on-time ones in order, and the late ones."""
        on_time, self._on_time = self._on_time, []
        later, self._later[day] = self._later[day], []
        return on_time, later


class _EventSimulator:
    """Sessions of users: A/B exposures, searches, impressions, clicks and applies."""

    def __init__(self, world: _World, rng: random.Random, ids: _Ids, delivery: _Delivery) -> None:
        self._world, self._rng, self._ids, self._delivery = world, rng, ids, delivery

    def simulate_day(self, ctx: _Day) -> None:
        emitted = 0
        while emitted < self._world.spec.events_per_day:
            emitted += self._session(ctx)

    def _session(self, ctx: _Day) -> int:
        rng = self._rng
        user = _pick_user(self._world.users, rng)
        platform = user.platform if rng.random() < 0.9 else _weighted(rng, _PLATFORMS)
        versions = _APP_VERSIONS[platform]
        tail = f',"app_version":"{versions[-1] if rng.random() < 0.7 else versions[0]}"'
        actor = _Actor(
            user,
            platform,
            f'"user_id":"{user.user_id}","session_id":'
            f'"{self._ids.session()}","platform":"{platform}"',
            tail if ctx.drifted else "",
        )
        hour = bisect_right(_HOUR_CUM, rng.random() * _HOUR_CUM[-1])
        t = (hour * 3600 + int(rng.random() * 3600)) * 1000
        emitted, lift = 0, 1.0
        for pattern in user.patterns:
            if pattern.pattern_id in ctx.active_patterns:
                t += 200 + int(rng.random() * 1800)
                self._emit(
                    ctx,
                    actor,
                    "ab_exposure",
                    t,
                    f',"ab_test_id":"{pattern.ab_test_id}","pattern_id":"{pattern.pattern_id}"',
                )
                emitted, lift = emitted + 1, lift * pattern.apply_lift
        for _ in range(1 + (rng.random() < 0.45) + (rng.random() < 0.15)):
            t += 3_000 + int(rng.random() * 60_000)
            self._emit(ctx, actor, "search", t, "")
            emitted += 1 + self._recommendations(ctx, actor, t, lift)
            t += 60_000
        return emitted

    def _recommendations(self, ctx: _Day, actor: _Actor, t: int, lift: float) -> int:
        """One recommended list after a search; clicks fall with the slot, applies follow clicks."""
        rng, world = self._rng, self._world
        algorithm = bisect_right(_ALGORITHM_CUM, rng.random())
        ctr, name = _CTR[algorithm], _ALGORITHMS[algorithm]
        emitted = 0
        for slot, job in enumerate(_pick_jobs(ctx, name, actor.user, rng), start=1):
            shown = t + 300 + 25 * slot
            rec = f',"job_id":"{job.job_id}","algorithm":"{name}","slot":{slot}'
            self._emit(ctx, actor, "impression", shown, rec)
            emitted += 1
            if rng.random() >= ctr[slot]:
                continue
            clicked = shown + 2_000 + int(rng.random() * 60_000)
            self._emit(ctx, actor, "click", clicked, rec)
            emitted += 1
            pair = (actor.user.user_id, job.job_id)
            if rng.random() < _APPLY_RATE * lift and pair not in world.applied_pairs:
                applied = clicked + 20_000 + int(rng.random() * 600_000)
                event_id = self._emit(ctx, actor, "apply", applied, rec)
                world.add_application(event_id, *pair, ctx.day_ms + applied)
                emitted += 1
        return emitted

    def _emit(self, ctx: _Day, actor: _Actor, event_type: str, t: int, extra: str) -> str:
        event_id = self._ids.event()
        line = (
            f'{{"event_id":"{event_id}","event_type":"{event_type}","event_time":'
            f'"{ctx.prefix}{_clock(t)}Z",{actor.fields}{extra}{actor.tail}}}'
        )
        self._delivery.deliver(ctx.index, event_type, actor.user.user_id, actor.platform, line)
        return event_id


def _pick_user(users: list[_User], rng: random.Random) -> _User:
    """A somewhat skewed pick (some users are heavy users), preferring active accounts."""
    user = users[0]
    for _ in range(10):
        user = users[int(len(users) * rng.random() ** 1.3)]
        if user.is_active:
            break
    return user


def _pick_jobs(ctx: _Day, algorithm: str, user: _User, rng: random.Random) -> list[_Job]:
    pool = ctx.open_jobs
    if algorithm == "content":
        pool = ctx.jobs_by_occupation.get(user.occupation, pool)
    wanted = min(len(pool), 4 + int(rng.random() * 7))
    power = 3.0 if algorithm == "popular" else 1.0
    picked: dict[str, _Job] = {}
    for _ in range(4 * wanted):
        job = pool[int(len(pool) * rng.random() ** power)]
        picked.setdefault(job.job_id, job)
        if len(picked) == wanted:
            break
    return list(picked.values())


def _malformed_lines(
    world: _World, ctx: _Day, ids: _Ids, rng: random.Random, ledger: TruthLedger
) -> list[str]:
    """Junk lines for lake day `ctx`, each with exactly one defect (see MALFORMED_REASONS)."""
    lines: list[str] = []
    for _ in range(round(world.spec.faults.malformed * ledger.event_lines(ctx.index))):
        pick = bisect_right(_MALFORMED_CUM, rng.random() * _MALFORMED_CUM[-1])
        reason = MALFORMED_REASONS[pick][0]
        lines.append(_malformed_line(reason, world, ctx, ids, rng))
        ledger.record_malformed(ctx.index, reason)
    return lines


def _malformed_line(reason: str, world: _World, ctx: _Day, ids: _Ids, rng: random.Random) -> str:
    if reason == "empty_line":
        return ""
    user = world.users[int(rng.random() * len(world.users))]
    job = ctx.open_jobs[int(rng.random() * len(ctx.open_jobs))] if ctx.open_jobs else world.jobs[0]
    record: dict[str, object] = {
        "event_id": ids.junk_event(),
        "event_type": "impression",
        "event_time": _iso_ms(ctx.day_ms + int(rng.random() * _DAY_MS)),
        "user_id": user.user_id,
        "session_id": ids.session(),
        "platform": user.platform,
        "job_id": job.job_id,
        "algorithm": _pick(rng, _ALGORITHMS),
        "slot": 1 + int(rng.random() * 10),
    }
    if ctx.drifted:
        record["app_version"] = _APP_VERSIONS[user.platform][-1]
    kind, _, name = reason.partition(":")
    if kind == "missing_field":
        del record[name]
    elif kind == "bad_type":
        record[name] = {"event_time": "yesterday", "slot": "3rd"}.get(name, int(user.user_id[1:]))
    elif kind == "bad_value":
        record[name] = _pick(rng, ("purchase", "share", "pageview"))
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    if kind == "invalid_json":  # a cut line: no closing brace, so never valid JSON
        return text[: 8 + int(rng.random() * (len(text) - 9))]
    return text


# ---- files ---------------------------------------------------------------------------------


def _lay_out(on_time: list[str], extras: list[str], rng: random.Random) -> list[str]:
    """Delivery order: extras spread through the on-time lines, then a local shuffle."""
    rng.shuffle(extras)
    positions = sorted(int(rng.random() * (len(on_time) + 1)) for _ in extras)
    lines: list[str] = []
    previous = 0
    for position, line in zip(positions, extras, strict=True):
        lines.extend(on_time[previous:position])
        lines.append(line)
        previous = position
    lines.extend(on_time[previous:])
    for first in range(0, len(lines), _SHUFFLE_BLOCK):
        block = lines[first : first + _SHUFFLE_BLOCK]
        rng.shuffle(block)
        lines[first : first + _SHUFFLE_BLOCK] = block
    return lines


def _fresh_dir(folder: Path) -> Path:
    """An empty partition folder (a re-generated partition never keeps stale parts)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _write_events(folder: Path, lines: list[str]) -> None:
    """Gzipped part files of at most MAX_LINES_PER_PART lines, then the _SUCCESS marker."""
    _fresh_dir(folder)
    for part, first in enumerate(range(0, max(len(lines), 1), MAX_LINES_PER_PART)):
        chunk = lines[first : first + MAX_LINES_PER_PART]
        if chunk and chunk[-1] == "":  # a blank last line is easy for readers to drop
            keep = max((i for i, line in enumerate(chunk) if line), default=0)
            chunk[keep], chunk[-1] = chunk[-1], chunk[keep]
        with (
            (folder / f"part-{part:05d}.jsonl.gz").open("wb") as raw,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0
            ) as gz,
        ):
            for start in range(0, len(chunk), 50_000):
                gz.write(("\n".join(chunk[start : start + 50_000]) + "\n").encode())
    (folder / SUCCESS_MARKER).write_bytes(b"")


def _write_dumps(out: Path, day: date, world: _World) -> dict[str, int]:
    """Every dump table's snapshot of `day`, each followed by its _SUCCESS; row counts."""

    def folder(table: str) -> Path:
        return _fresh_dir(out / "dumps" / table / f"dt={day.isoformat()}")

    rows = {
        "users": _write_csv(folder("users") / "users.csv", _User.COLUMNS, world.users),
        "companies": _write_csv(
            folder("companies") / "companies.csv", _Company.COLUMNS, world.companies
        ),
        "jobs": _write_csv(folder("jobs") / "jobs.csv", _Job.COLUMNS, world.jobs),
        "applications": _write_parquet(
            folder("applications") / "applications.parquet", _applications_table(world)
        ),
        "ab_patterns": _write_parquet(
            folder("ab_patterns") / "ab_patterns.parquet", _patterns_table(world, day)
        ),
    }
    return rows


def _write_csv(path: Path, header: tuple[str, ...], records: Sequence[_CsvRecord]) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(record.row() for record in records)
    path.write_bytes(buffer.getvalue().encode())
    (path.parent / SUCCESS_MARKER).write_bytes(b"")
    return len(records)


def _write_parquet(path: Path, table: pa.Table) -> int:
    pq.write_table(table, path, compression="zstd")
    (path.parent / SUCCESS_MARKER).write_bytes(b"")
    return int(table.num_rows)


def _applications_table(world: _World) -> pa.Table:
    apps = world.applications
    return pa.table(
        {
            "application_id": pa.array([a.application_id for a in apps], pa.string()),
            "user_id": pa.array([a.user_id for a in apps], pa.string()),
            "job_id": pa.array([a.job_id for a in apps], pa.string()),
            "applied_at": pa.array([a.applied_ms for a in apps], pa.timestamp("ms")),
            "status": pa.array([a.status for a in apps], pa.string()),
            "status_updated_at": pa.array([a.status_ms for a in apps], pa.timestamp("ms")),
        }
    )


def _patterns_table(world: _World, day: date) -> pa.Table:
    started = [p for p in world.patterns if p.started <= day]
    return pa.table(
        {
            "ab_test_id": pa.array([p.ab_test_id for p in started], pa.string()),
            "pattern_id": pa.array([p.pattern_id for p in started], pa.string()),
            "description": pa.array([p.description for p in started], pa.string()),
            "is_active": pa.array([p.is_active(day) for p in started], pa.bool_()),
            "started_date": pa.array([p.started for p in started], pa.date32()),
        }
    )
