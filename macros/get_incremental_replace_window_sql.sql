{#-
    Incremental strategy `replace_window`: replace the model's window of dates (window_bounds())
    in its partition column (the model's dbt `event_time` config) by the freshly built rows;
    with a meta.window.lake_day_column, only the rows of the run's lake days on (window_floor()).
-#}
{% macro get_incremental_replace_window_sql(arg_dict) %}
    {{ return(adapter.dispatch('get_incremental_replace_window_sql')(arg_dict)) }}
{% endmacro %}


{#- Delete the window, insert the new rows. dbt-duckdb runs the strategy's SQL as one statement
    batch between its BEGIN and COMMIT, so readers never see a half-replaced window. -#}
{% macro default__get_incremental_replace_window_sql(arg_dict) %}
    {%- set partition_column = replace_window_column() -%}
    {%- set window_start, window_end = window_bounds() -%}
    {%- set column_list = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ date_between(partition_column, window_start, window_end) }}{{ window_floor() }};

    insert into {{ arg_dict['target_relation'] }} ({{ column_list }})
    select {{ column_list }}
    from {{ arg_dict['temp_relation'] }}
    where {{ date_between(partition_column, window_start, window_end) }}{{ window_floor() }};
{% endmacro %}


{% macro duckdb__get_incremental_replace_window_sql(arg_dict) %}
    {{ return(default__get_incremental_replace_window_sql(arg_dict)) }}
{% endmacro %}


{#- Stub, to be finished with the BigQuery target: a static partition replace of the window's
    dates in one MERGE (no DECLARE/scripting, so it also runs on the emulator). -#}
{% macro bigquery__get_incremental_replace_window_sql(arg_dict) %}
    {%- set partition_column = replace_window_column() -%}
    {%- set window_start, window_end = window_bounds() -%}
    {%- set column_list = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    merge into {{ arg_dict['target_relation'] }} as dbt_internal_dest
    using (
        select {{ column_list }}
        from {{ arg_dict['temp_relation'] }}
        where {{ date_between(partition_column, window_start, window_end) }}{{ window_floor() }}
    ) as dbt_internal_source
    on false
    when not matched by source
        and {{ date_between('dbt_internal_dest.' ~ partition_column, window_start, window_end) }}
        {{- window_floor('dbt_internal_dest.') }}
        then delete
    when not matched then insert ({{ column_list }})
        values ({{ column_list }})
{% endmacro %}
