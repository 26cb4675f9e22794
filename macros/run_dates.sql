{#-
    The lake days this run processes, as ISO date strings [run_start, run_end].
    vars run_start / run_end (run_end defaults to run_start); without run_start, the latest
    landed lake day: max(dt) of source('app', 'events'), queried at execute time.
-#}
{% macro run_dates() %}
    {%- set run_start = run_date_var('run_start') -%}
    {%- set run_end = run_date_var('run_end') -%}
    {%- if run_start is none -%}
        {%- if run_end is not none -%}
            {{ exceptions.raise_compiler_error(
                "var 'run_end' is set (" ~ run_end ~ ") but 'run_start' is not: pass both, or only run_start"
            ) }}
        {%- endif -%}
        {%- if not execute -%}
            {{ return(['1970-01-01', '1970-01-01']) }}
        {%- endif -%}
        {%- set latest_query -%}
            select cast(max(dt) as {{ dbt.type_string() }}) as latest_day from {{ source('app', 'events') }}
        {%- endset -%}
        {%- set run_start = run_query(latest_query).columns[0].values()[0] -%}
        {%- if run_start is none -%}
            {{ exceptions.raise_compiler_error(
                "no landed lake day: " ~ source('app', 'events') ~ " is empty;"
                ~ " land a day first or pass --vars '{run_start: YYYY-MM-DD}'"
            ) }}
        {%- endif -%}
        {%- set run_start = run_start[:10] -%}
    {%- endif -%}
    {%- set run_end = run_end or run_start -%}
    {%- if run_end < run_start -%}
        {{ exceptions.raise_compiler_error(
            "var 'run_end' (" ~ run_end ~ ") is earlier than var 'run_start' (" ~ run_start ~ ")"
        ) }}
    {%- endif -%}
    {{ return([run_start, run_end]) }}
{% endmacro %}
