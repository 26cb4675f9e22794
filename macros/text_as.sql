{#-
    A text value typed by the source-meta vocabulary (string, integer, number, boolean, date,
    timestamp); null when it does not convert. `name` only labels the error of an unknown type.
-#}
{% macro text_as(text, data_type='string', name='') %}
    {%- if data_type == 'string' -%}
        {{ return(text) }}
    {%- elif data_type == 'integer' -%}
        {{ return(cast_or_null(text, dbt.type_bigint())) }}
    {%- elif data_type == 'number' -%}
        {{ return(cast_or_null(text, dbt.type_float())) }}
    {%- elif data_type == 'boolean' -%}
        {{ return(cast_or_null('lower(' ~ text ~ ')', dbt.type_boolean())) }}
    {%- elif data_type == 'date' -%}
        {{ return(cast_or_null('substr(' ~ text ~ ', 1, 10)', 'date')) }}
    {%- elif data_type == 'timestamp' -%}
        {{ return(to_utc_timestamp(text)) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "text_as: unknown data_type '" ~ data_type ~ "' for '" ~ name
            ~ "' (use string, integer, number, boolean, date or timestamp)"
        ) }}
    {%- endif -%}
{% endmacro %}
