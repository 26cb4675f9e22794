{#-
    An ISO-8601 timestamp string as a UTC timestamp without zone. A string with an offset
    (`Z`, `+09:00`) is converted to UTC; one without is taken as UTC already (dump values).
-#}
{% macro to_utc_timestamp(expression) %}
    {{ return(adapter.dispatch('to_utc_timestamp')(expression)) }}
{% endmacro %}


{% macro default__to_utc_timestamp(expression) -%}
    cast({{ expression }} as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- DuckDB: a naive string cast to timestamptz would use the session time zone, and a cast to
    timestamp drops the offset, so pick the cast by whether an offset is present. -#}
{% macro duckdb__to_utc_timestamp(expression) -%}
    case
        when regexp_matches({{ expression }}, '(Z|[+-]\d{2}:?\d{2})$')
            then cast(try_cast({{ expression }} as timestamptz) at time zone 'UTC' as timestamp)
        else try_cast({{ expression }} as timestamp)
    end
{%- endmacro %}


{#- BigQuery: TIMESTAMP() reads a zone-less string as UTC and applies an explicit offset. -#}
{% macro bigquery__to_utc_timestamp(expression) -%}
    safe.timestamp({{ expression }})
{%- endmacro %}
