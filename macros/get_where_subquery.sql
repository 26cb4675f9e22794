{#-
    The relation a generic test reads. Besides the test's own `where` config, a windowed run
    (var run_start set) tests an incremental model only in the window of dates it just rebuilt
    (its event_time column within window_bounds() of its meta.window), not its whole history.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set tested = tested_node() -%}
    {%- if var('run_start', none) and tested and tested.config.materialized == 'incremental'
        and tested.config.event_time and (tested.config.meta or {}).get('window') is not none -%}
        {%- set window_start, window_end = window_bounds(tested.config.meta.window) -%}
        {%- do filters.append(date_between(tested.config.event_time, window_start, window_end)) -%}
    {%- endif -%}
    {%- if filters -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ filters | join(' and ') }}) as dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
