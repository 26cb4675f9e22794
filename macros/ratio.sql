{#- numerator / denominator as type_rate() (rounded to 6 decimals), null when the denominator is 0. -#}
{% macro ratio(numerator, denominator) -%}
    cast(round(1.0 * {{ numerator }} / nullif({{ denominator }}, 0), 6) as {{ type_rate() }})
{%- endmacro %}
