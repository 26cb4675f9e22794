"""The sample lake's app events: user sessions, their delivery faults, and junk lines.

Internal to `flows.sample_lake`. Sessions of the simulated users emit JSON lines; `Delivery`
decides the lake day(s) each line reaches (on time, late, too late, twice) and reports it to the
truth ledger; `malformed_lines` adds lines landing must quarantine. Ids are a seeded bijection
of counters, so they are unique without a lookup.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from flows.sample.spec import LakeSpec
from flows.sample.truth import TruthLedger
from flows.sample.world import (
    DAY_MS,
    PLATFORM_SHARES,
    Job,
    User,
    World,
    clock,
    day_ms,
    iso_ms,
    pick,
    weighted,
)

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
_MASK48 = (1 << 48) - 1
_APP_VERSIONS = {"ios": ("5.2.0", "5.3.0"), "android": ("5.2.1", "5.3.1"), "web": ("2026.11.0",)}
_ALGORITHMS = ("popular", "collab", "content")
_ALGORITHM_CUM = (0.4, 0.75, 1.0)
# click-through rate by algorithm and slot (index 0 unused): falls with the slot
_CTR = tuple(tuple(base / max(slot, 1) ** 0.7 for slot in range(11)) for base in (0.07, 0.11, 0.09))
_APPLY_RATE = 0.14
# UTC hours 0..22 (sessions last under an hour, so none crosses midnight); users are in Japan
_HOUR_CUM = tuple(
    accumulate((9, 10, 10, 12, 10, 8, 7, 6, 6, 8, 10, 12, 13, 12, 9, 6, 4, 3, 2, 2, 2, 3, 5))
)


# ---- ids -----------------------------------------------------------------------------------


def _mix48(counter: int, key: int) -> int:
    """A bijection of 48-bit integers (xor, odd multiplies, xor-shifts): distinct in, out."""
    x = ((counter ^ key) * 0x9E3779B97F4B) & _MASK48
    x ^= x >> 23
    x = (x * 0xC2B2AE3D27D5) & _MASK48
    return x ^ (x >> 21)


class Ids:
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


# ---- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayContext:
    """What the events of one event date may reference."""

    index: int
    day: date
    day_ms: int
    prefix: str
    open_jobs: tuple[Job, ...]
    jobs_by_occupation: dict[str, tuple[Job, ...]]
    active_patterns: frozenset[str]
    drifted: bool


@dataclass(frozen=True)
class _Actor:
    user: User
    platform: str
    fields: str  # the user_id, session_id and platform members of every line
    tail: str  # the app_version member after the schema drift, else ""


def day_context(world: World, index: int, day: date) -> DayContext:
    """The open jobs, active A/B patterns and drift flag of event date `day`."""
    open_jobs = tuple(job for job in world.jobs if job.is_open)
    by_occupation: dict[str, list[Job]] = {}
    for job in open_jobs:
        by_occupation.setdefault(job.occupation, []).append(job)
    return DayContext(
        index,
        day,
        day_ms(day),
        f"{day.isoformat()}T",
        open_jobs,
        {occupation: tuple(jobs) for occupation, jobs in by_occupation.items()},
        frozenset(p.pattern_id for p in world.patterns if p.is_active(day)),
        day >= world.spec.drift_date,
    )


class Delivery:
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
        """File one event line in the lake day(s) it reaches and tell the ledger."""
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


class EventSimulator:
    """Sessions of users: A/B exposures, searches, impressions, clicks and applies."""

    def __init__(self, world: World, rng: random.Random, ids: Ids, delivery: Delivery) -> None:
        self._world, self._rng, self._ids, self._delivery = world, rng, ids, delivery

    def simulate_day(self, ctx: DayContext) -> None:
        """Whole sessions until the day has at least its events (flows/sample/spec.py)."""
        emitted = 0
        wanted = self._world.spec.events_on(ctx.day)
        while emitted < wanted:
            emitted += self._session(ctx)

    def _session(self, ctx: DayContext) -> int:
        rng = self._rng
        user = _pick_user(self._world.users, rng)
        platform = user.platform if rng.random() < 0.9 else weighted(rng, PLATFORM_SHARES)
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

    def _recommendations(self, ctx: DayContext, actor: _Actor, t: int, lift: float) -> int:
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

    def _emit(self, ctx: DayContext, actor: _Actor, event_type: str, t: int, extra: str) -> str:
        event_id = self._ids.event()
        line = (
            f'{{"event_id":"{event_id}","event_type":"{event_type}","event_time":'
            f'"{ctx.prefix}{clock(t)}Z",{actor.fields}{extra}{actor.tail}}}'
        )
        self._delivery.deliver(ctx.index, event_type, actor.user.user_id, actor.platform, line)
        return event_id


def _pick_user(users: list[User], rng: random.Random) -> User:
    """A somewhat skewed pick (some users are heavy users), preferring active accounts."""
    user = users[0]
    for _ in range(10):
        user = users[int(len(users) * rng.random() ** 1.3)]
        if user.is_active:
            break
    return user


def _pick_jobs(ctx: DayContext, algorithm: str, user: User, rng: random.Random) -> list[Job]:
    pool = ctx.open_jobs
    if algorithm == "content":
        pool = ctx.jobs_by_occupation.get(user.occupation, pool)
    wanted = min(len(pool), 4 + int(rng.random() * 7))
    power = 3.0 if algorithm == "popular" else 1.0
    picked: dict[str, Job] = {}
    for _ in range(4 * wanted):
        job = pool[int(len(pool) * rng.random() ** power)]
        picked.setdefault(job.job_id, job)
        if len(picked) == wanted:
            break
    return list(picked.values())


def malformed_lines(
    world: World, ctx: DayContext, ids: Ids, rng: random.Random, ledger: TruthLedger
) -> list[str]:
    """Junk lines for lake day `ctx`, each with exactly one defect (see MALFORMED_REASONS)."""
    lines: list[str] = []
    for _ in range(round(world.spec.faults.malformed * ledger.event_lines(ctx.index))):
        pick = bisect_right(_MALFORMED_CUM, rng.random() * _MALFORMED_CUM[-1])
        reason = MALFORMED_REASONS[pick][0]
        lines.append(_malformed_line(reason, world, ctx, ids, rng))
        ledger.record_malformed(ctx.index, reason)
    return lines


def _malformed_line(
    reason: str, world: World, ctx: DayContext, ids: Ids, rng: random.Random
) -> str:
    if reason == "empty_line":
        return ""
    user = world.users[int(rng.random() * len(world.users))]
    job = ctx.open_jobs[int(rng.random() * len(ctx.open_jobs))] if ctx.open_jobs else world.jobs[0]
    record: dict[str, object] = {
        "event_id": ids.junk_event(),
        "event_type": "impression",
        "event_time": iso_ms(ctx.day_ms + int(rng.random() * DAY_MS)),
        "user_id": user.user_id,
        "session_id": ids.session(),
        "platform": user.platform,
        "job_id": job.job_id,
        "algorithm": pick(rng, _ALGORITHMS),
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
        record[name] = pick(rng, ("purchase", "share", "pageview"))
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    if kind == "invalid_json":  # a cut line: no closing brace, so never valid JSON
        return text[: 8 + int(rng.random() * (len(text) - 9))]
    return text
