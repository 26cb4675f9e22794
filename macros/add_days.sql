{#- A date expression moved by a whole number of days (n may be negative); the result is a date. -#}
{% macro add_days(date_expression, n) %}
    {{ return(adapter.dispatch('add_days')(date_expression, n)) }}
{% endmacro %}


{% macro default__add_days(date_expression, n) -%}
    cast({{ dbt.dateadd('day', n, date_expression) }} as date)
{%- endmacro %}


{% macro duckdb__add_days(date_expression, n) -%}
    cast({{ date_expression }} + ({{ n }}) as date)
{%- endmacro %}


{% macro bigquery__add_days(date_expression, n) -%}
    date_add({{ date_expression }}, interval ({{ n }}) day)
{%- endmacro %}
