{#- SQL type of rates, posterior means and weights in marts: numeric(28,6) on every adapter
    (DuckDB and BigQuery both accept it), matching the data_type in the contracts. -#}
{% macro type_rate() -%}
    numeric(28,6)
{%- endmacro %}
