"""Date parsing and ranges (flows.dates) and the `sluice` command's argument checks (flows.cli)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest

from flows.cli.main import build_parser, main
from flows.dates import date_range, parse_date
from flows.errors import InputError, InvalidParameter
from flows.sample.truth import DUMP_TABLES

ROOT = Path(__file__).resolve().parents[2]

NOV_1 = date(2026, 11, 1)


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the `sluice` entry point on argv, expect argparse's exit 2, return its stderr."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


# ---- parse_date ----------------------------------------------------------------------------


def test_parse_date_reads_an_iso_date() -> None:
    assert parse_date("2026-11-01") == NOV_1
    assert parse_date("2024-02-29") == date(2024, 2, 29)


def test_parse_date_passes_a_date_through() -> None:
    assert parse_date(NOV_1, "start") is NOV_1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-13-01", "is not a calendar date"),
        ("2026-02-30", "is not a calendar date"),
        ("2025-02-29", "is not a calendar date"),
        ("2026/11/01", "must be a date like 2026-11-01"),
        ("", "must be a date like 2026-11-01"),
        ("yesterday", "must be a date like 2026-11-01"),
        ("20261101", "must be a date like 2026-11-01"),
        ("2026-11-01T00:00", "must be a date like 2026-11-01"),
        (" 2026-11-01", "must be a date like 2026-11-01"),
        ("26-11-01", "must be a date like 2026-11-01"),
    ],
)
def test_parse_date_rejects_a_malformed_date_naming_the_parameter(value: str, problem: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_date(value, "start")
    message = str(raised.value)
    assert message.startswith("start ")
    assert problem in message
    assert repr(value) in message


def test_parse_date_names_the_default_parameter_date() -> None:
    with pytest.raises(InvalidParameter, match=r"^date must be a date like 2026-11-01, got 'x'$"):
        parse_date("x")


def test_an_invalid_date_is_an_input_error() -> None:
    assert issubclass(InvalidParameter, InputError)


# ---- date_range ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "length"),
    [
        (NOV_1, NOV_1, 1),
        (NOV_1, date(2026, 11, 3), 3),
        (date(2024, 2, 27), date(2024, 3, 1), 4),  # leap day included
        (date(2025, 2, 27), date(2025, 3, 1), 3),
        (date(2026, 12, 31), date(2027, 1, 1), 2),
        (NOV_1, date(2027, 10, 31), 365),
    ],
)
def test_date_range_is_inclusive_and_consecutive(start: date, end: date, length: int) -> None:
    days = date_range(start, end)
    assert len(days) == length
    assert days[0] == start and days[-1] == end
    assert all((later - earlier).days == 1 for earlier, later in pairwise(days))


def test_date_range_rejects_an_inverted_range() -> None:
    with pytest.raises(InvalidParameter, match=r"^end 2026-10-31 is before start 2026-11-01$"):
        date_range(NOV_1, date(2026, 10, 31))


def test_date_range_rejects_a_range_over_max_days() -> None:
    with pytest.raises(InvalidParameter) as raised:
        date_range(NOV_1, date(2026, 11, 4), max_days=3)
    message = str(raised.value)
    assert "2026-11-01..2026-11-04 spans 4 days" in message
    assert "maximum of 3" in message
    assert "SLUICE_MAX_BACKFILL_DAYS" in message


def test_date_range_accepts_exactly_max_days() -> None:
    assert len(date_range(NOV_1, date(2026, 11, 3), max_days=3)) == 3


# ---- sluice: argument parsing --------------------------------------------------------------


def test_parser_reads_each_subcommand() -> None:
    parser = build_parser()
    run = parser.parse_args(["run", "--date", "2026-11-01"])
    assert (run.command, run.date) == ("run", NOV_1)
    backfill = parser.parse_args(["backfill", "--start", "2026-11-01", "--end", "2026-11-05"])
    assert (backfill.start, backfill.end) == (NOV_1, date(2026, 11, 5))
    generate = parser.parse_args(["lake", "generate", "--start", "2026-11-01"])
    assert (generate.lake_command, generate.out, generate.start) == ("generate", None, NOV_1)
    assert (generate.days, generate.events_per_day, generate.seed) == (7, 10_000, 42)


def test_run_with_an_impossible_date_exits_2_naming_the_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(["run", "--date", "2026-02-30"], capsys)
    assert "argument --date" in err
    assert "'2026-02-30' is not a calendar date" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("end", ["2026/11/05", "2026-11-31", "tomorrow", ""])
def test_backfill_with_a_malformed_end_exits_2_naming_it(
    end: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(["backfill", "--start", "2026-11-01", "--end", end], capsys)
    assert "sluice backfill: error: argument --end:" in err
    assert repr(end) in err
    assert "Traceback" not in err


@pytest.mark.parametrize("days", ["0", "-1", "1.5", "seven"])
def test_lake_generate_rejects_a_day_count_below_one(
    days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(["lake", "generate", "--start", "2026-11-01", "--days", days], capsys)
    assert re.search(rf"argument --days: expected a positive integer, got '{re.escape(days)}'", err)


def test_lake_generate_requires_a_start(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["lake", "generate", "--days", "2"], capsys)
    assert "--start" in err and "required" in err


# ---- sluice lake generate ------------------------------------------------------------------


def generate_argv(out: Path, events_per_day: str) -> list[str]:
    return [
        "lake",
        "generate",
        "--out",
        str(out),
        "--start",
        "2026-11-01",
        "--days",
        "2",
        "--events-per-day",
        events_per_day,
        "--seed",
        "3",
    ]


def test_lake_generate_writes_a_complete_lake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lake"
    assert main(generate_argv(out, "200")) == 0
    assert "wrote 2 lake days (2026-11-01..2026-11-02)" in capsys.readouterr().out
    for day in ("2026-11-01", "2026-11-02"):
        assert (out / "events" / f"dt={day}" / "_SUCCESS").is_file()
        assert list((out / "events" / f"dt={day}").glob("part-*.jsonl.gz"))
        for table in DUMP_TABLES:
            assert (out / "dumps" / table / f"dt={day}" / "_SUCCESS").is_file()
        assert (out / "_truth" / f"dt={day}.json").is_file()
    assert not (out / "events" / "dt=2026-11-03").exists()


def test_lake_generate_with_zero_events_per_day_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lake"
    err = usage_error(generate_argv(out, "0"), capsys)
    assert "argument --events-per-day: expected a positive integer, got '0'" in err
    assert not out.exists()


def test_a_range_ending_in_the_future_is_refused() -> None:
    from datetime import date

    from flows.dates import date_range
    from flows.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="end 2026-12-02 is in the future"):
        date_range(date(2026, 12, 1), date(2026, 12, 2), latest=date(2026, 12, 1))
    assert date_range(date(2026, 12, 1), date(2026, 12, 1), latest=date(2026, 12, 1)) == [
        date(2026, 12, 1)
    ]


# ---- every option validated before anything runs --------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["backfill", "--start", "2026-11-05", "--end", "2026-11-01"],
        ["backfill", "--start", "2026-11-05", "--end", "2026-11-01", "--dry-run"],
        ["retry", "--start", "2026-11-05", "--end", "2026-11-01"],
        ["status", "--start", "2026-11-05", "--end", "2026-11-01"],
    ],
)
def test_an_inverted_range_is_refused_in_one_line_before_anything_runs(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("SLUICE_STATE", str(tmp_path / "state.sqlite"))
    clean_env.setenv("SLUICE_DUCKDB", str(tmp_path / "w.duckdb"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == "sluice: error: end 2026-11-01 is before start 2026-11-05\n"
    assert not (tmp_path / "state.sqlite").exists() and not (tmp_path / "w.duckdb").exists()


@pytest.mark.parametrize("port", ["0", "65536", "99999", "80a", "-1", "\uff11\uff12\uff13"])
def test_server_port_must_be_a_tcp_port(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["server", "--port", port], capsys)
    assert "argument --port:" in err and repr(port) in err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--date", "2026-11-01'; drop table raw.events; --"),
        ("--date", "../../etc/passwd"),
        ("--date", "2026-11-01\n"),
        ("--date", "\uff12\uff10\uff12\uff16-11-01"),
    ],
)
def test_hostile_dates_are_refused_by_the_parser(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(["run", option, value], capsys)
    assert "must be a date like 2026-11-01" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "name", ["events; drop table x", "Events", "raw.events", '"events"', "1events", "évents", ""]
)
def test_identifiers_for_sql_are_whitelisted(name: str) -> None:
    from flows.errors import ProjectError
    from flows.project.identifiers import identifier

    with pytest.raises(ProjectError, match="is not a lowercase identifier"):
        identifier(name, "raw table")
    assert identifier("events_2", "raw table") == "events_2"


def test_flow_runs_of_a_command_send_no_heartbeats_unless_a_setting_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.context import SettingsContext
    from prefect.settings import Settings, get_current_settings

    from flows.cli.environment import without_heartbeats

    default = Settings().flows.heartbeat_frequency
    assert default is not None  # Prefect sends heartbeats by default
    with without_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == default

    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    profile = SettingsContext.get().profile
    with SettingsContext(profile=profile, settings=Settings()), without_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency == 60


_CYCLE_AT_EXIT = """
import sys
from pathlib import Path
from flows.cli.environment import prepare_process

class Node:
    def __del__(self):  # runs only if a collection frees the cycle
        Path(sys.argv[1]).write_text("collected")

if sys.argv[2] == "prepared":
    prepare_process()
node = Node()
node.me = node  # a cycle: only the garbage collector frees it
del node
"""


@pytest.mark.parametrize("prepared", [True, False])
def test_a_commands_process_ends_without_a_last_garbage_collection(
    tmp_path: Path, prepared: bool
) -> None:
    """The interpreter's teardown collects every cycle left (1.7 s after a flow command);
    `sluice` skips that, after its exit handlers ran. A plain process still collects."""
    marker = tmp_path / "marker"
    argv = [str(marker), "prepared" if prepared else "plain"]
    done = subprocess.run(
        [sys.executable, "-c", _CYCLE_AT_EXIT, *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert marker.exists() is not prepared
