{#- The partition_by config of a table partitioned by a date column: a BigQuery daily partition;
    none on other adapters (DuckDB has no table partitions). -#}
{% macro date_partition(column) %}
    {{ return(adapter.dispatch('date_partition')(column)) }}
{% endmacro %}


{% macro default__date_partition(column) %}
    {{ return(none) }}
{% endmacro %}


{% macro bigquery__date_partition(column) %}
    {{ return({'field': column, 'data_type': 'date', 'granularity': 'day'}) }}
{% endmacro %}
