"""Sluice's ratio benchmarks: one script per question, results in results.json and README.md."""
