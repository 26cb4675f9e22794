{#- numerator / denominator as numeric(28,6) (rounded to 6 decimals), null when the denominator is 0. -#}
{% macro ratio(numerator, denominator) -%}
    cast(round(1.0 * {{ numerator }} / nullif({{ denominator }}, 0), 6) as {{ dbt.type_numeric() }})
{%- endmacro %}
