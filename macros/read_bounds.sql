{#-
    The dates this model reads of one upstream model or source: its window_bounds() widened by
    meta.reads.<upstream> (lag_days before, lead_days after; 0 when not declared). A model that
    filters an upstream with in_window(..., upstream=...) must declare it, so the declaration
    the pipeline's blocking reads is the one the SQL applies. dbt gives a unit test neither the
    tested model's meta nor the graph: a windowed unit test states the reach in
    `overrides: vars: {unit_test_reads: {<upstream>: {lag_days: .., lead_days: ..}}}` beside
    unit_test_window (0 when not stated); the declaration is checked when the model compiles.
-#}
{% macro read_bounds(upstream, meta=none) %}
    {%- set unit_test = model is mapping and model.get('resource_type') == 'unit_test' -%}
    {%- set meta = meta if meta is not none else (config.get('meta') or {}) -%}
    {%- set reads = meta.get('reads') or (var('unit_test_reads', {}) if unit_test else {}) -%}
    {%- if upstream not in reads and execute and not unit_test -%}
        {{ exceptions.raise_compiler_error(
            "model " ~ this ~ " filters " ~ upstream ~ " with in_window(..., upstream='"
            ~ upstream ~ "') but declares no meta.reads." ~ upstream
            ~ " (lag_days, lead_days: the days it reads beyond its window)"
        ) }}
    {%- endif -%}
    {%- set reach = reads.get(upstream) or {} -%}
    {%- set window = meta.get('window') -%}
    {%- if window is none and unit_test -%}
        {%- set window = var('unit_test_window', none) -%}
    {%- endif -%}
    {%- set window_start, window_end = window_bounds(window or {}) -%}
    {{ return([
        shift_iso_date(window_start, -((reach.get('lag_days') or 0) | int)),
        shift_iso_date(window_end, (reach.get('lead_days') or 0) | int),
    ]) }}
{% endmacro %}
