{#- SQL type of rates, posterior means and weights in marts: var rate_type, numeric(28,6) (DuckDB
    and BigQuery both accept it), the same var as the data_type of those columns' contracts.
    Only the offline BigQuery emulator sets it to numeric (bq_gaps.yml: parameterized_numeric). -#}
{% macro type_rate() -%}
    {{ var('rate_type') }}
{%- endmacro %}
