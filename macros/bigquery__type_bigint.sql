{#- dbt's type_bigint() renders `bigint` on BigQuery, an alias that BigQuery accepts but GoogleSQL
    (the ZetaSQL analyzer of make bq-check) does not: cast to the canonical INT64 instead.
    Found through the dispatch search order in dbt_project.yml (sluice before dbt). -#}
{% macro bigquery__type_bigint() -%}
    int64
{%- endmacro %}
