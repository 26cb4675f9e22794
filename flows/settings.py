"""Sluice settings: locations, limits and operations policy, read once from sluice.toml and env.

Precedence: `SLUICE_*` env vars, then the TOML file (`SLUICE_CONFIG`, default `sluice.toml` in
the project), then the defaults. Secrets (`Secrets`) come from env vars only, never the file.
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from flows.errors import InvalidParameter
from flows.lake.layout import MAX_FILE_BYTES
from flows.lake.location import SCHEME, BucketLocation
from flows.state.location import DatabaseUrl, StateLocation, state_location

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_FILE = "sluice.toml"


def _lake_location(value: Any) -> Any:
    """A gs:// URL becomes a BucketLocation (validated), any other text a folder path."""
    if isinstance(value, str) and value.startswith(SCHEME):
        try:
            return BucketLocation.parse(value)
        except InvalidParameter as exc:
            raise ValueError(str(exc)) from exc
    return value


LakeLocation = Annotated[Path | BucketLocation, BeforeValidator(_lake_location)]


# A path is a SQLite file; a postgresql+psycopg:// URL a server several workers share.
StateFile = Annotated[StateLocation, BeforeValidator(state_location)]


# Decimal units are powers of 1000, binary ones (KiB ...) powers of 1024, as BigQuery's
# pricing page uses them (its prices are per TiB).
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "pb": 1000**5,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "pib": 1024**5,
}
_AMOUNT = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)\s*$", re.IGNORECASE)


def parse_bytes(text: str | int, what: str = "bytes") -> int:
    """A byte count from `text` (digits and an optional unit: B, KB, MB, GB, TB, PB or KiB ...
    PiB); InvalidParameter naming `what` when it is not one."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise InvalidParameter(f"{what} {text} must not be negative")
        return text
    found = _AMOUNT.match(str(text))
    unit = found.group("unit").lower() if found else ""
    if found is None or unit not in _UNITS:
        raise InvalidParameter(
            f"{what} {text!r} is not a byte count: a number with an optional unit, "
            "e.g. 500GB, 1TiB or 1048576"
        )
    return int(float(found.group("number")) * _UNITS[unit])


def _byte_count(value: Any) -> Any:
    """A byte count with an optional unit (500GB, 1TiB) becomes its number of bytes."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_bytes(value, "max_bytes")
    except InvalidParameter as exc:
        raise ValueError(str(exc)) from exc


ByteCount = Annotated[int | None, BeforeValidator(_byte_count)]


class EmailSink(BaseModel):
    """SMTP delivery of incident notifications (password: SLUICE_SMTP_PASSWORD)."""

    model_config = {"frozen": True}

    host: str = Field(description="SMTP server host")
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = Field(default=False, description="upgrade the connection with STARTTLS")
    ca_file: Path | None = Field(
        default=None,
        description="CA certificates (PEM) the server's certificate is verified against "
        "(default: the system's); the certificate is always verified",
    )
    username: str | None = Field(default=None, description="login name, if the server needs one")
    allow_plain_login: bool = Field(
        default=False,
        description="send the login over a connection without TLS (only for a trusted relay)",
    )
    sender: str = Field(description="From: address")
    recipients: tuple[str, ...] = Field(min_length=1, description="To: addresses")


# Days the gates hold only to their volume floor (volume varies on them) and leave out of the
# history they learn from, as MM-DD (every year) or YYYY-MM-DD. The sample lake's default holidays
# are these too (flows/sample/spec.py).
DEFAULT_HOLIDAYS = ("01-01", "01-02", "01-03", "12-24", "12-25", "12-31")


def holiday_dates(calendar: tuple[str, ...], years: range) -> frozenset[date]:
    """The dates of a holiday calendar (MM-DD every year, or YYYY-MM-DD) within `years`."""
    found: set[date] = set()
    for entry in calendar:
        try:
            if len(entry) == 5:
                found |= {date.fromisoformat(f"{year}-{entry}") for year in years}
            else:
                found.add(date.fromisoformat(entry))
        except ValueError as exc:
            raise InvalidParameter(f"holiday {entry!r} is not MM-DD or YYYY-MM-DD: {exc}") from exc
    return frozenset(found)


class NotifySettings(BaseModel):
    """Where incident notifications go; the log sink is always on."""

    model_config = {"frozen": True}

    webhook_url: str | None = Field(
        default=None, description="generic webhook: JSON POST signed with SLUICE_WEBHOOK_SECRET"
    )
    email: EmailSink | None = None
    min_severity: Literal["warning", "critical"] = Field(
        default="warning", description="the least severe incident that is sent to the sinks"
    )
    attempts: int = Field(default=4, ge=1, le=10, description="tries per sink and notification")
    backoff_seconds: float = Field(
        default=1.0, ge=0, description="wait before the 2nd try; doubles before each later one"
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="per HTTP request or SMTP try")
    include_values: bool = Field(
        default=False,
        description="send error messages whole, with the row values a database error or a "
        "failed check can quote (default: counts, columns and where the failing rows are)",
    )


class WatchdogSettings(BaseModel):
    """How far back the watchdog looks for late partitions."""

    model_config = {"frozen": True}

    lookback_days: int = Field(default=7, ge=1, le=366)


class RetentionSettings(BaseModel):
    """How long the janitor keeps operational records (days)."""

    model_config = {"frozen": True}

    ledger_days: int = Field(default=90, ge=1, description="superseded ledger and gate rows")
    incident_days: int = Field(default=90, ge=1, description="resolved incidents")
    audit_days: int = Field(default=30, ge=1, description="audit.gate_failures rows")
    quarantine_days: int = Field(default=180, ge=1, description="raw.quarantine rows (by lake day)")
    flow_run_days: int = Field(default=30, ge=1, description="Prefect flow runs")
    report_days: int = Field(default=14, ge=1, description="run reports under the reports folder")


class Settings(BaseSettings):
    """Every location, limit and policy Sluice uses; env vars are prefixed `SLUICE_`."""

    model_config = SettingsConfigDict(
        env_prefix="SLUICE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    lake: LakeLocation = Field(
        default=PROJECT_DIR / "data" / "lake",
        description="the lake: a folder, or gs://bucket/prefix (flows/lake/bucket.py)",
    )
    duckdb: Path = Field(
        default=PROJECT_DIR / "data" / "warehouse.duckdb", description="the DuckDB warehouse file"
    )
    state: StateFile = Field(
        default=PROJECT_DIR / "data" / "warehouse.state.sqlite",
        description="the state store (ledger, locks, incidents) that status reads during a run: "
        "a SQLite file, by default one per warehouse: beside the DuckDB file "
        "(<file>.state.sqlite), or data/<project>.state.sqlite for a BigQuery project; or a "
        "postgresql+psycopg://user:password@host:port/database URL that several workers share",
    )
    reports: Path | None = Field(
        default=None,
        description="run reports folder (default: `reports/` beside the SQLite state store, or "
        "under the project's data/ when the state store is a PostgreSQL database)",
    )
    target: Literal["dev", "bigquery", "bq_emulator"] = Field(
        default="dev", description="dbt target in profiles.yml"
    )
    project_dir: Path = Field(default=PROJECT_DIR, description="the dbt project")
    max_backfill_days: int = Field(
        default=400, ge=1, description="longest range one backfill may span"
    )
    max_file_bytes: int = Field(
        default=MAX_FILE_BYTES,
        ge=1,
        description="the most bytes landing reads from one lake file, decompressed (a bigger "
        "file, e.g. a gzip bomb, fails its partition)",
    )

    # BigQuery's on-demand list price per TiB a query scans, USD, in the US and EU multi-regions:
    # cloud.google.com/bigquery/pricing, "On-demand compute pricing" ($6.25 since July 2023).
    price_per_tib: float = Field(
        default=6.25, ge=0, description="on-demand price per TiB scanned that plans show"
    )
    max_bytes: ByteCount = Field(
        default=None,
        description="refuse a backfill whose plan reads more bytes (BigQuery's on-demand "
        "bytes; units allowed: 500GB, 1TiB); unset: no budget",
    )

    lease_seconds: int = Field(
        default=1800, ge=10, description="how long a lock holds without being renewed"
    )
    data_docs: Literal["always", "on_failure", "never"] = Field(
        default="on_failure",
        description="when a run renders Great Expectations Data Docs: always, when a check "
        "failed or warned, or never (rendering takes ~1 s a run)",
    )
    holidays: tuple[str, ...] = Field(
        default=DEFAULT_HOLIDAYS,
        description="holiday calendar of the volume gates: MM-DD (every year) or YYYY-MM-DD",
    )
    notify: NotifySettings = NotifySettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    retention: RetentionSettings = RetentionSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = Path(os.environ.get("SLUICE_CONFIG") or PROJECT_DIR / CONFIG_FILE)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config))

    @property
    def state_dir(self) -> Path:
        """The folder of this machine's files beside the state store (reports, a bucket lake's
        cache): the SQLite file's, or the project's data/ for a PostgreSQL database."""
        if isinstance(self.state, DatabaseUrl):
            return self.project_dir / "data"
        return self.state.parent

    @property
    def reports_dir(self) -> Path:
        """Where run reports are written."""
        return self.reports or self.state_dir / "reports"

    @property
    def lake_folder(self) -> Path:
        """The lake folder, for what writes a lake (sample lakes); a bucket is refused."""
        if isinstance(self.lake, BucketLocation):
            raise InvalidParameter(
                f"lake {self.lake} is a bucket; this needs a lake folder (pass one, e.g. --out)"
            )
        return self.lake

    # BigQuery targets (profiles.yml reads the same SLUICE_BQ_* variables).
    bq_project: str = Field(default="sluice-emulator", description="GCP project of the warehouse")
    bq_location: str = Field(default="US", description="BigQuery location of the datasets")
    bq_endpoint: str | None = Field(
        default=None, description="API endpoint of a BigQuery emulator (bq_emulator target only)"
    )
    bq_keyfile: Path | None = Field(
        default=None, description="service-account key file; unset: application-default login"
    )
    bq_ops_dataset: str = Field(
        default="ops",
        description="dataset the ledger, gate checks and incidents are published to (as-is, "
        "like raw, dwh and marts)",
    )

    @model_validator(mode="before")
    @classmethod
    def _state_of_the_warehouse(cls, data: Any) -> Any:
        """Without an explicit `state`, each warehouse gets its own state store."""
        if not isinstance(data, dict) or data.get("state") is not None:
            return data
        target = str(data.get("target") or "dev")
        if target == "dev":
            duckdb = Path(str(data.get("duckdb") or PROJECT_DIR / "data" / "warehouse.duckdb"))
            state = duckdb.with_name(f"{duckdb.stem}.state.sqlite")
        else:
            project = str(data.get("bq_project") or "sluice-emulator")
            state = PROJECT_DIR / "data" / f"{project}.state.sqlite"
        return {**data, "state": state}

    def resolved(self) -> Settings:
        """Return a copy whose paths are absolute, so dbt and DuckDB agree from any cwd."""
        return self.model_copy(
            update={
                "lake": self.lake
                if isinstance(self.lake, BucketLocation)
                else self.lake.expanduser().resolve(),
                "duckdb": self.duckdb.expanduser().resolve(),
                "state": self.state
                if isinstance(self.state, DatabaseUrl)
                else self.state.expanduser().resolve(),
                "reports": self.reports.expanduser().resolve() if self.reports else None,
                "project_dir": self.project_dir.expanduser().resolve(),
            }
        )


class Secrets(BaseSettings):
    """Credentials of the notification sinks: from env vars only, never from a file."""

    model_config = SettingsConfigDict(env_prefix="SLUICE_", frozen=True, extra="ignore")

    webhook_secret: str | None = Field(default=None, description="HMAC-SHA256 key of the webhook")
    slack_webhook_url: str | None = Field(
        default=None, description="Slack-compatible incoming webhook URL (it holds a token)"
    )
    smtp_password: str | None = Field(default=None, description="SMTP login password")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def describe_errors(exc: ValidationError) -> str:
    """The settings' errors on one line, naming each field but never the value it was given
    (pydantic's own text echoes it: a secret put in the file would reach logs and stderr)."""
    found = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        secret = next((str(p) for p in error["loc"] if str(p) in Secrets.model_fields), None)
        if secret:
            found.append(
                f"{where} is a secret: set SLUICE_{secret.upper()} in the environment, never "
                "in the file"
            )
        else:
            found.append(f"{where}: {error['msg']}")
    return "; ".join(found)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (environment and sluice.toml read once)."""
    try:
        return Settings().resolved()
    except ValidationError as exc:
        config = os.environ.get("SLUICE_CONFIG") or PROJECT_DIR / CONFIG_FILE
        raise InvalidParameter(
            f"settings in {config} or SLUICE_* env vars: {describe_errors(exc)}"
        ) from None  # pydantic's error, if printed as a cause, would echo the values
