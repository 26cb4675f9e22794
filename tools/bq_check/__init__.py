"""`make bq-check`: the BigQuery target proven offline (emulator run, GoogleSQL analysis, parse)."""
