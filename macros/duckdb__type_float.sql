{#- dbt's type_float() renders `float` on DuckDB, a 4-byte REAL there: a JSON number (landing
    checks `number` fields as doubles) needs DOUBLE. Found through the dispatch search order in
    dbt_project.yml (sluice before dbt); BigQuery keeps dbt's FLOAT64. -#}
{% macro duckdb__type_float() -%}
    double
{%- endmacro %}
