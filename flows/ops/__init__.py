"""Operations around runs: deadlines (watchdog), retention (janitor), local Prefect server."""
