"""The sample lake's simulated app database: its records, their daily changes, the dump rows.

Internal to `flows.sample_lake`, which calls it once per lake day: `evolve_dimensions` and
`advance_applications` move the database to the end of the day, then the CSV `row()`s and the
Arrow tables here are that day's dumps. Also the time helpers the whole generator shares.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import ClassVar

from flows.sample.spec import LakeSpec

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1).toordinal()
_TERMINAL = frozenset({"hired", "rejected", "withdrawn"})
# status -> (next status, daily chance of moving there); any open status may also end
# rejected (6 %) or withdrawn (2 %) on a day
_PIPELINE = {
    "applied": ("screening", 0.35),
    "screening": ("interview", 0.3),
    "interview": ("offer", 0.25),
    "offer": ("hired", 0.5),
}
PLATFORM_SHARES = (("ios", 48), ("android", 34), ("web", 18))
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
_AB_SHARES = (("t01", 0.3), ("t02", 0.25))


# ---- time and random picks -----------------------------------------------------------------


def day_ms(day: date) -> int:
    """Epoch milliseconds of the UTC midnight starting `day`."""
    return (day.toordinal() - _EPOCH) * DAY_MS


def clock(ms_of_day: int) -> str:
    """`HH:MM:SS.mmm` of a millisecond of the day."""
    seconds, milli = divmod(ms_of_day, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{milli:03d}"


def iso_ms(ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` of a UTC epoch-millisecond timestamp."""
    days, rest = divmod(ms, DAY_MS)
    return f"{date.fromordinal(_EPOCH + days).isoformat()}T{clock(rest)}Z"


def weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    """A name drawn from (name, weight) pairs."""
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def pick(rng: random.Random, options: tuple[str, ...]) -> str:
    """One of `options`, uniformly, from a single `rng.random()` draw."""
    return options[int(rng.random() * len(options))]


# ---- the app database ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """One arm (pattern) of an A/B test, active from `started` until `ended`."""

    ab_test_id: str
    pattern_id: str
    description: str
    started: date
    ended: date | None
    apply_lift: float

    def is_active(self, day: date) -> bool:
        return self.started <= day and (self.ended is None or day < self.ended)


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(slots=True)
class User:
    """A row of the users dump; `platform` and `patterns` only steer the simulated sessions."""

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
    patterns: tuple[Pattern, ...]

    def row(self) -> tuple[str, ...]:
        return (
            self.user_id,
            self.signup_date.isoformat(),
            self.region,
            self.occupation,
            _flag(self.is_active),
            iso_ms(self.updated_ms),
        )


@dataclass(slots=True)
class Company:
    """A row of the companies dump."""

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
            iso_ms(self.updated_ms),
        )


@dataclass(slots=True)
class Job:
    """A row of the jobs dump."""

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
            iso_ms(self.updated_ms),
        )


@dataclass(slots=True)
class Application:
    """A row of the applications dump."""

    application_id: str
    user_id: str
    job_id: str
    applied_ms: int
    status: str
    status_ms: int


@dataclass
class World:
    """The app database as of the end of the day being generated."""

    spec: LakeSpec
    patterns: tuple[Pattern, ...]
    base_users: int
    base_jobs: int
    users: list[User] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    applications: list[Application] = field(default_factory=list)
    pending: list[Application] = field(default_factory=list)
    applied_pairs: set[tuple[str, str]] = field(default_factory=set)

    def add_application(self, event_id: str, user_id: str, job_id: str, applied_ms: int) -> None:
        app = Application("a" + event_id[1:], user_id, job_id, applied_ms, "applied", applied_ms)
        self.applications.append(app)
        self.pending.append(app)
        self.applied_pairs.add((user_id, job_id))


def _ab_patterns(spec: LakeSpec) -> tuple[Pattern, ...]:
    t01 = spec.start - timedelta(days=14)
    t02 = spec.start + timedelta(days=spec.days // 3)
    t01p3_end = spec.start + timedelta(days=max(1, 2 * spec.days // 3))
    return (
        Pattern("t01", "t01p1", "control: current ranking", t01, None, 1.0),
        Pattern("t01", "t01p2", "apply button above the fold", t01, None, 1.35),
        Pattern("t01", "t01p3", "salary hidden until click", t01, t01p3_end, 0.8),
        Pattern("t02", "t02p1", "control: weekly job digest", t02, None, 1.0),
        Pattern("t02", "t02p2", "daily job digest", t02, None, 1.2),
    )


def initial_world(spec: LakeSpec, rng: random.Random) -> World:
    """The database before the first day, sized so ~14 events per session meet events_per_day."""
    sessions = max(1, spec.events_per_day // 14)
    world = World(spec, _ab_patterns(spec), max(40, 2 * sessions), max(30, sessions // 4))
    for n in range(1, max(5, world.base_jobs // 12) + 1):
        since = day_ms(spec.start) - int(rng.uniform(30, 700) * DAY_MS)
        name = pick(rng, _SURNAMES) + " " + pick(rng, _COMPANY_KINDS)
        name += pick(rng, _COMPANY_SUFFIXES)
        world.companies.append(
            Company(f"c{n:04d}", name, pick(rng, _INDUSTRIES), int(rng.random() * 5), since)
        )
    for _ in range(world.base_jobs):
        _add_job(world, spec.start - timedelta(days=1 + int(rng.random() * 180)), rng)
    for _ in range(world.base_users):
        _add_user(world, spec.start - timedelta(days=1 + int(rng.random() ** 2 * 730)), rng)
    return world


def _add_user(world: World, signup: date, rng: random.Random) -> None:
    patterns: list[Pattern] = []
    for test_id, share in _AB_SHARES:
        if rng.random() < share:
            options = [p for p in world.patterns if p.ab_test_id == test_id]
            patterns.append(options[int(rng.random() * len(options))])
    world.users.append(
        User(
            f"u{len(world.users) + 1:06d}",
            signup,
            weighted(rng, _REGIONS),
            pick(rng, tuple(o for o, _, _ in _OCCUPATIONS)),
            rng.random() < 0.97,
            day_ms(signup) + int(rng.random() * DAY_MS),
            weighted(rng, PLATFORM_SHARES),
            tuple(patterns),
        )
    )


def _add_job(world: World, posted: date, rng: random.Random) -> None:
    occupation, titles, base = _OCCUPATIONS[int(rng.random() * len(_OCCUPATIONS))]
    salary_min = round(base * rng.uniform(0.75, 1.25) / 10_000) * 10_000
    company = world.companies[int(rng.random() * len(world.companies))]
    world.jobs.append(
        Job(
            f"j{len(world.jobs) + 1:05d}",
            company.company_id,
            pick(rng, _LEVELS) + pick(rng, titles),
            occupation,
            salary_min,
            salary_min + 10_000 * (50 + int(rng.random() * 250)),
            rng.random() < 0.95 or posted >= world.spec.start,
            posted,
            day_ms(posted) + int(rng.random() * DAY_MS),
        )
    )


def evolve_dimensions(world: World, day: date, rng: random.Random) -> None:
    """Today's changes to rows that existed yesterday, then today's new users and jobs."""

    def at() -> int:
        return day_ms(day) + int(rng.random() * DAY_MS)

    for _ in range(max(1, world.base_users // 400)):
        user = world.users[int(rng.random() * len(world.users))]
        if rng.random() < 0.6:  # a move: the region always differs, so the row really changes
            user.region = weighted(rng, tuple(r for r in _REGIONS if r[0] != user.region))
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


def advance_applications(world: World, day: date, rng: random.Random) -> None:
    """Move each open application at most one step: forward, or to rejected / withdrawn."""
    still_open: list[Application] = []
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
        app.status_ms = day_ms(day) + int(rng.random() * DAY_MS)
        if app.status not in _TERMINAL:
            still_open.append(app)
    world.pending = still_open
