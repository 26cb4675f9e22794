"""Quality gates: expectation suites matched to tables, validated by Great Expectations in SQL."""
