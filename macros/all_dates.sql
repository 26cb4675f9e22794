{#- A predicate true for every row, written on BigQuery as a filter on the partition column, so a
    full build may read a table that has require_partition_filter (it prunes nothing). -#}
{% macro all_dates(column) %}
    {{ return(adapter.dispatch('all_dates')(column)) }}
{% endmacro %}


{% macro default__all_dates(column) -%}
    true
{%- endmacro %}


{% macro bigquery__all_dates(column) -%}
    ({{ column }} is null or {{ column }} >= date '0001-01-01')
{%- endmacro %}
