{#- The full_refresh config of a fact that must never be rebuilt by accident: false on BigQuery
    (a full refresh would rescan and rewrite its whole history), dbt's default elsewhere. -#}
{% macro never_full_refresh() %}
    {{ return(adapter.dispatch('never_full_refresh')()) }}
{% endmacro %}


{% macro default__never_full_refresh() %}
    {{ return(none) }}
{% endmacro %}


{% macro bigquery__never_full_refresh() %}
    {{ return(false) }}
{% endmacro %}
