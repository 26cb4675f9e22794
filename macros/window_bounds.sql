{#-
    The output dates this model owns: [run_start - lag_days, run_end + lead_days], as ISO
    strings, from the model's meta.window (config.get('meta')). Pass `window` to read
    another node's meta.window (used by the test where-clause).
-#}
{% macro window_bounds(window=none) %}
    {%- if window is none -%}
        {%- set window = (config.get('meta') or {}).get('window') or {} -%}
    {%- endif -%}
    {%- set run_start, run_end = run_dates() -%}
    {%- set lag_days = (window.get('lag_days') or 0) | int -%}
    {%- set lead_days = (window.get('lead_days') or 0) | int -%}
    {{ return([shift_iso_date(run_start, -lag_days), shift_iso_date(run_end, lead_days)]) }}
{% endmacro %}
