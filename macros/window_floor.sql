{#-
    The rest of the window's predicate beyond its dates: with meta.window.lake_day_column,
    ` and <column> >= cast('<run_start>' as date)`: rows of those dates that an earlier lake day
    decided are final, so a run neither rebuilds nor replaces them. '' without it. `row` prefixes
    the column (a MERGE's `dbt_internal_dest.`); `window` as in window_bounds().
-#}
{% macro window_floor(row='', window=none) %}
    {%- set column = window_meta(window).get('lake_day_column') -%}
    {%- if not column -%}
        {{ return('') }}
    {%- endif -%}
    {%- set run_start = run_dates()[0] -%}
    {{ return(' and ' ~ row ~ column ~ " >= cast('" ~ run_start ~ "' as date)") }}
{% endmacro %}
