{#- Cast that yields null instead of failing on a value that does not convert. -#}
{% macro cast_or_null(expression, data_type) %}
    {{ return(adapter.dispatch('cast_or_null')(expression, data_type)) }}
{% endmacro %}


{% macro default__cast_or_null(expression, data_type) -%}
    cast({{ expression }} as {{ data_type }})
{%- endmacro %}


{% macro duckdb__cast_or_null(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}


{% macro bigquery__cast_or_null(expression, data_type) -%}
    safe_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
