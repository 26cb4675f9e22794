"""The deterministic sample-lake generator (product: the demo and `sluice lake generate`).

The pipeline never imports it; the CLI, tools, benchmarks and tests do.
"""
