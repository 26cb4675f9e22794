{#- `<column> between date 'start' and date 'end'` for two ISO date strings. -#}
{% macro date_between(column, start_date, end_date) -%}
    {{ column }} between cast('{{ start_date }}' as date) and cast('{{ end_date }}' as date)
{%- endmacro %}
