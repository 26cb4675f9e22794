"""A BigQuery client: production credentials (key file or application default), or an emulator."""

from __future__ import annotations

from typing import Any

from flows.errors import ProjectError
from flows.project.identifiers import identifier
from flows.settings import Settings


def bigquery_client(settings: Settings, *, emulator: bool) -> Any:
    """A google-cloud-bigquery Client: of the emulator at SLUICE_BQ_ENDPOINT, or of BigQuery."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    if emulator:
        from google.auth.credentials import AnonymousCredentials

        if not settings.bq_endpoint:
            raise ProjectError("target bq_emulator needs SLUICE_BQ_ENDPOINT (the emulator's URL)")
        return _emulator_client_class()(
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


def ensure_dataset(client: Any, project: str, dataset: str) -> None:
    """Create project.dataset in the client's location where it is missing.

    Runs started together may create it at once: BigQuery answers the later create 409, which
    `exists_ok` accepts; the emulator answers 500 (a catalog write-write conflict). A create
    that fails while the dataset exists afterwards only lost that race; any other failure is
    raised as it came.
    """
    from google.api_core.exceptions import GoogleAPICallError
    from google.cloud import bigquery

    wanted = bigquery.Dataset(f"{project}.{identifier(dataset, 'dataset')}")
    wanted.location = client.location
    try:
        client.create_dataset(wanted, exists_ok=True)
    except GoogleAPICallError:
        if not _dataset_exists(client, wanted.reference):
            raise


def _dataset_exists(client: Any, reference: Any) -> bool:
    """Whether BigQuery has the dataset `reference` (a lookup, no query job)."""
    from google.api_core.exceptions import NotFound

    try:
        client.get_dataset(reference)
    except NotFound:
        return False
    return True


def _emulator_client_class() -> Any:
    """A Client that leaves out an empty `queryParameters` list, which the emulator refuses.

    BigQuery's DB-API sends the list with every statement, even one without parameters (the
    gates' statements have their values inlined, flows/bigquery_inline.py); BigQuery ignores
    an empty list, the emulator refuses any (bq_gaps.yml `query_parameters`).
    """
    from google.cloud import bigquery

    class EmulatorClient(bigquery.Client):
        def query_and_wait(self, query: str, *, job_config: Any = None, **kwargs: Any) -> Any:
            if job_config is not None and not job_config.query_parameters:
                resource = job_config.to_api_repr()
                resource.get("query", {}).pop("queryParameters", None)
                job_config = bigquery.QueryJobConfig.from_api_repr(resource)
            return super().query_and_wait(query, job_config=job_config, **kwargs)

    return EmulatorClient
