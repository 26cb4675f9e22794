{#-
    The output dates this model owns: [run_start - lag_days, run_end + lead_days], as ISO
    strings, from the model's meta.window (config.get('meta')). Pass `window` to use another
    node's meta.window (the test where-clause does). dbt gives a unit test neither the tested
    model's meta nor the graph, so a windowed unit test states the window in
    `overrides: vars: {unit_test_window: {lag_days: .., lead_days: ..}}`; nothing else sets it.
-#}
{% macro window_bounds(window=none) %}
    {%- set window = window_meta(window) -%}
    {%- set run_start, run_end = run_dates() -%}
    {%- set lag_days = (window.get('lag_days') or 0) | int -%}
    {%- set lead_days = (window.get('lead_days') or 0) | int -%}
    {{ return([shift_iso_date(run_start, -lag_days), shift_iso_date(run_end, lead_days)]) }}
{% endmacro %}


{#- The meta.window in force: `window` if given, else the current model's (a unit test's var). -#}
{% macro window_meta(window=none) %}
    {%- if window is none -%}
        {%- set window = (config.get('meta') or {}).get('window') -%}
    {%- endif -%}
    {%- if window is none and model is mapping and model.get('resource_type') == 'unit_test' -%}
        {%- set window = var('unit_test_window', none) -%}
    {%- endif -%}
    {{ return(window or {}) }}
{% endmacro %}
