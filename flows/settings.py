"""Sluice settings: where the lake and the warehouse live, read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every location and limit Sluice uses; env vars are prefixed `SLUICE_`."""

    model_config = SettingsConfigDict(env_prefix="SLUICE_", frozen=True)

    lake: Path = Field(default=PROJECT_DIR / "data" / "lake", description="the lake folder")
    duckdb: Path = Field(
        default=PROJECT_DIR / "data" / "warehouse.duckdb", description="the DuckDB warehouse file"
    )
    state: Path = Field(
        default=PROJECT_DIR / "data" / "state.sqlite",
        description="the state store (ledger, locks) that status reads during a run",
    )
    target: Literal["dev", "bigquery", "bq_emulator"] = Field(
        default="dev", description="dbt target in profiles.yml"
    )
    project_dir: Path = Field(default=PROJECT_DIR, description="the dbt project")
    max_backfill_days: int = Field(
        default=400, ge=1, description="longest range one backfill may span"
    )

    lease_seconds: int = Field(
        default=1800, ge=10, description="how long a lock holds without being renewed"
    )

    # BigQuery targets (profiles.yml reads the same SLUICE_BQ_* variables).
    bq_project: str = Field(default="sluice-emulator", description="GCP project of the warehouse")
    bq_location: str = Field(default="US", description="BigQuery location of the datasets")
    bq_endpoint: str | None = Field(
        default=None, description="API endpoint of a BigQuery emulator (bq_emulator target only)"
    )
    bq_keyfile: Path | None = Field(
        default=None, description="service-account key file; unset: application-default login"
    )

    def resolved(self) -> Settings:
        """Return a copy whose paths are absolute, so dbt and DuckDB agree from any cwd."""
        return self.model_copy(
            update={
                "lake": self.lake.expanduser().resolve(),
                "duckdb": self.duckdb.expanduser().resolve(),
                "state": self.state.expanduser().resolve(),
                "project_dir": self.project_dir.expanduser().resolve(),
            }
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (environment read once)."""
    return Settings().resolved()
