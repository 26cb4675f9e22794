"""Developer tooling, not in the wheel: PR check, docs check, secrets scan, BigQuery check."""
