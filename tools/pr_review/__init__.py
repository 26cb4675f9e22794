"""The PR review of `make pr-check`: what a change does to the data, from lineage and a data diff.

changes.py classifies each changed model (breaking / non-breaking / no data change) from the
base and PR column lineage and finds the downstream columns and exposures it reaches; diff.py
compares the base and PR builds in DuckDB; checks.py runs sqlfluff and the quality gates;
report.py writes target/pr-review.md and the terminal summary.
"""
