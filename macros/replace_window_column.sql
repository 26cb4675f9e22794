{#- The partition column of a replace_window model: its `event_time` config, required. -#}
{% macro replace_window_column() %}
    {%- set partition_column = config.get('event_time') -%}
    {%- if not partition_column -%}
        {{ exceptions.raise_compiler_error(
            "model " ~ this ~ " uses incremental_strategy 'replace_window' but has no event_time"
            ~ " config: set config(event_time='<date column>')"
        ) }}
    {%- endif -%}
    {{ return(partition_column) }}
{% endmacro %}
