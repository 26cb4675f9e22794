{#-
    One field of a JSON payload, typed: data_type is one of string, integer, boolean, date,
    timestamp (the `type` vocabulary of the source meta `sluice.fields`). Values that do not
    convert become null (landing already quarantined bad types).
-#}
{% macro json_field(column, field, data_type='string') %}
    {%- set text = json_text(column, field) -%}
    {%- if data_type == 'string' -%}
        {{ text }}
    {%- elif data_type == 'integer' -%}
        {{ cast_or_null(text, dbt.type_bigint()) }}
    {%- elif data_type == 'boolean' -%}
        {{ cast_or_null('lower(' ~ text ~ ')', dbt.type_boolean()) }}
    {%- elif data_type == 'date' -%}
        {{ cast_or_null('substr(' ~ text ~ ', 1, 10)', 'date') }}
    {%- elif data_type == 'timestamp' -%}
        {{ to_utc_timestamp(text) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "json_field: unknown data_type '" ~ data_type ~ "' for field '" ~ field
            ~ "' (use string, integer, boolean, date or timestamp)"
        ) }}
    {%- endif -%}
{% endmacro %}
