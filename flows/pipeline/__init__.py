"""The pipeline: Prefect flows that run lake days step by step, each gated and in the ledger."""
