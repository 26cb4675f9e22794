{#- A JSON field as text (null when absent or JSON null): `payload->>'field'`. -#}
{% macro json_text(column, field) %}
    {{ return(adapter.dispatch('json_text')(column, field)) }}
{% endmacro %}


{% macro default__json_text(column, field) -%}
    {{ column }} ->> '{{ field }}'
{%- endmacro %}


{% macro duckdb__json_text(column, field) -%}
    ({{ column }} ->> '{{ field }}')
{%- endmacro %}


{% macro bigquery__json_text(column, field) -%}
    json_value({{ column }}, '$."{{ field }}"')
{%- endmacro %}
