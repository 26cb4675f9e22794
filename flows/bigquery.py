"""A BigQuery client for the configured target: production credentials, or an emulator endpoint."""

from __future__ import annotations

from typing import Any

from flows.errors import ProjectError
from flows.settings import Settings

BIGQUERY_TARGETS = ("bigquery", "bq_emulator")


def bigquery_client(settings: Settings) -> Any:
    """A google-cloud-bigquery Client for settings.target (bigquery or bq_emulator)."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    if settings.target not in BIGQUERY_TARGETS:
        raise ProjectError(f"target {settings.target!r} is not a BigQuery target")
    if settings.target == "bq_emulator":
        from google.auth.credentials import AnonymousCredentials

        if not settings.bq_endpoint:
            raise ProjectError("target bq_emulator needs SLUICE_BQ_ENDPOINT (the emulator's URL)")
        return bigquery.Client(
            project=settings.bq_project,
            location=settings.bq_location,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=settings.bq_endpoint),
        )
    if settings.bq_keyfile:
        return bigquery.Client.from_service_account_json(  # type: ignore[no-untyped-call]
            str(settings.bq_keyfile), project=settings.bq_project, location=settings.bq_location
        )
    return bigquery.Client(project=settings.bq_project, location=settings.bq_location)
