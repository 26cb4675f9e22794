"""Volume bounds follow the weekday, skip holidays and blocked days, and always keep a floor."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from flows.errors import ProjectError
from flows.gates.history import passed_counts
from flows.gates.volume import UNBOUNDED, VolumeRule
from flows.sample.spec import WEEKLY, LakeSpec
from flows.settings import holiday_dates
from flows.state.location import StateLocation
from flows.state.store import StateStore

RULE = VolumeRule.of({})
MONDAY = date(2026, 11, 2)
NONE: frozenset[date] = frozenset()


def weeks_of(counts: dict[int, int], weeks: int, last: date) -> dict[date, int]:
    """History: `weeks` weeks before `last`, each weekday (0 = Monday) at its count +- 1 %."""
    history = {}
    for offset in range(1, 7 * weeks + 1):
        day = last - timedelta(days=offset)
        wobble = 1 + ((offset * 37) % 5 - 2) / 100  # deterministic -2 % .. +2 %
        history[day] = int(counts[day.weekday()] * wobble)
    return history


WEEK = {d: 1000 if d < 5 else 800 for d in range(7)}


def test_a_weekend_dip_passes_and_a_35_percent_weekday_drop_is_stopped() -> None:
    saturday = MONDAY + timedelta(days=5)
    history = weeks_of(WEEK, 4, saturday)
    weekend, _ = RULE.bounds(saturday, history, NONE)
    assert weekend.low <= 790 <= weekend.high  # compared with Saturdays, not with the week
    tuesday = MONDAY + timedelta(days=8)
    weekday, warn = RULE.bounds(tuesday, weeks_of(WEEK, 4, tuesday), NONE)
    assert warn is None  # once the weekday's history is known, one band, and it stops
    assert weekday.low > 650 and weekday.low <= 990  # -35 % fails, -1 % passes
    assert "earlier Tuesdays" in weekday.describe()


def test_a_35_percent_drop_passes_the_old_flat_band_but_not_the_seasonal_one() -> None:
    tuesday = MONDAY + timedelta(days=22)
    history = weeks_of(WEEK, 4, tuesday)
    last_week = sorted(n for d, n in history.items() if d >= tuesday - timedelta(days=7))
    old_low = int(last_week[len(last_week) // 2] * 0.5)  # the rule before: 0.5 x 7-day median
    dropped = 650
    assert dropped > old_low
    assert dropped < RULE.bounds(tuesday, history, NONE)[0].low


def test_a_holiday_is_held_to_the_floor_and_left_out_of_history() -> None:
    tuesday = MONDAY + timedelta(days=22)
    history = weeks_of(WEEK, 4, tuesday)
    holiday = tuesday - timedelta(days=7)
    history[holiday] = 300  # the last Tuesday was a holiday at 30 %
    bounds, _ = RULE.bounds(tuesday, history, frozenset({holiday}))
    assert bounds.low > 800  # the holiday did not drag the band down
    assert RULE.bounds(holiday, history, frozenset({holiday}))[0].low == RULE.floor == 1


def test_an_empty_day_fails_even_without_history() -> None:
    bounds, warn = RULE.bounds(MONDAY, {}, NONE)
    assert (bounds.low, bounds.high, warn) == (1, UNBOUNDED, None)
    assert VolumeRule.of({"floor": 500}).bounds(MONDAY, {}, NONE)[0].low == 500


def test_the_first_weeks_warn_on_a_swing_and_still_stop_an_outage() -> None:
    history = {MONDAY + timedelta(days=i): n for i, n in enumerate([1000, 1100, 1050, 980])}
    friday = MONDAY + timedelta(days=4)
    stop, warn = RULE.bounds(friday, history, NONE)  # no earlier Friday yet
    assert warn is not None and "warns" in warn.rule
    assert stop.low <= 400 < warn.low  # a 60 % drop warns, and passes
    assert stop.low > 52  # 5 % of the neighbours is an outage: stopped
    one_day = {MONDAY: 1000}
    stop, warn = RULE.bounds(MONDAY + timedelta(days=1), one_day, NONE)
    assert stop.low == 1 and warn is not None and warn.low == 500  # with one day, it only warns


def test_an_identical_history_does_not_make_the_band_zero_wide() -> None:
    tuesday = MONDAY + timedelta(days=15)
    history = {tuesday - timedelta(days=7 * w): 1000 for w in (1, 2)}
    bounds, _ = RULE.bounds(tuesday, history, NONE)
    assert bounds.low == 850 and bounds.high == 1301  # min_spread: 15 % of the median


def test_a_rule_with_an_unknown_key_is_a_project_error() -> None:
    with pytest.raises(ProjectError, match="unknown keys"):
        VolumeRule.of({"history_days": 7})


def test_only_days_whose_latest_check_passed_make_the_history(
    state_location: StateLocation,
) -> None:
    store = StateStore(state_location)
    rows = [
        ("2026-11-02", "t1", 1, 100),
        ("2026-11-03", "t1", 0, 10),  # blocked: never history
        ("2026-11-04", "t1", 0, 20),
        ("2026-11-04", "t2", 1, 120),  # retried and passed: its latest check counts
        ("2026-11-05", "t1", 1, 90),
        ("2026-10-01", "t1", 1, 70),  # too old
    ]
    with store.transaction() as con:
        for dt, checked, ok, n in rows:
            con.execute(
                "insert into gate_checks (dt, layer, suite, run_id, checked_at, success,"
                " row_count, details) values (:dt, 'raw', 'raw.events', 'r', :at, :ok, :n, '')",
                {"dt": dt, "at": f"{dt}T{checked}", "ok": ok, "n": n},
            )
    found = passed_counts(store, "raw.events", date(2026, 11, 6), 28)
    assert found == {date(2026, 11, 2): 100, date(2026, 11, 4): 120, date(2026, 11, 5): 90}


def test_the_sample_lake_has_a_weekly_pattern_and_holidays() -> None:
    spec = LakeSpec(start=date(2026, 12, 21), days=14, events_per_day=10_000)
    assert sum(WEEKLY) == pytest.approx(7.0)
    assert spec.events_on(date(2026, 12, 21)) == 11_000  # a Monday
    assert spec.events_on(date(2026, 12, 26)) == 8_200  # a Saturday
    assert spec.events_on(date(2026, 12, 25)) == round(10_000 * WEEKLY[4] * 0.5)  # Christmas
    assert date(2027, 1, 1) in holiday_dates(spec.holidays, range(2027, 2028))
