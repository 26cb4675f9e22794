{#-
    dbt-bigquery accepts only its own incremental strategies (merge, insert_overwrite,
    microbatch); this override of its validation lets the project's `replace_window` through.
-#}
{% macro dbt_bigquery_validate_get_incremental_strategy(config) %}
    {%- if config.get('incremental_strategy') == 'replace_window' -%}
        {{ return('replace_window') }}
    {%- endif -%}
    {{ return(dbt.dbt_bigquery_validate_get_incremental_strategy(config)) }}
{% endmacro %}
