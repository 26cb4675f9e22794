{#-
    dbt-bigquery's incremental build SQL, extended with the `replace_window` strategy
    (get_incremental_replace_window_sql): the other strategies are dbt-bigquery's own.
-#}
{% macro bq_generate_incremental_build_sql(
    strategy, tmp_relation, target_relation, sql, unique_key, partition_by, partitions,
    dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates
) %}
    {%- if strategy == 'replace_window' -%}
        {%- set source = tmp_relation if tmp_relation_exists else '(' ~ sql ~ ')' -%}
        {{ return(get_incremental_replace_window_sql({
            'target_relation': target_relation,
            'temp_relation': source,
            'dest_columns': dest_columns,
        })) }}
    {%- endif -%}
    {{ return(dbt.bq_generate_incremental_build_sql(
        strategy, tmp_relation, target_relation, sql, unique_key, partition_by, partitions,
        dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates
    )) }}
{% endmacro %}
