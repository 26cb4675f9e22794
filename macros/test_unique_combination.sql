{#- Generic test: no two rows share the same values in `columns` (a list of column names). -#}
{% test unique_combination(model, columns) %}
    {%- set column_csv = columns | join(', ') -%}
    select
        {{ column_csv }},
        count(*) as duplicate_rows
    from {{ model }}
    group by {{ column_csv }}
    having count(*) > 1
{% endtest %}
