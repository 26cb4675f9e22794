{#- A hash of the given columns' values (nulls distinct from any value), for change detection. -#}
{% macro row_hash(columns) %}
    {{ return(adapter.dispatch('row_hash')(columns)) }}
{% endmacro %}


{% macro default__row_hash(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '\\N')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{% macro duckdb__row_hash(columns) -%}
    md5(concat_ws('|'
    {%- for column in columns -%}
        , coalesce(cast({{ column }} as varchar), '\N')
    {%- endfor -%}
    ))
{%- endmacro %}


{#- BigQuery: '\\N' is the two characters backslash and N (a bare '\N' is an illegal escape),
    so the hashed text equals DuckDB's. -#}
{% macro bigquery__row_hash(columns) -%}
    to_hex(md5(concat(
    {%- for column in columns -%}
        {%- if not loop.first %}, '|', {% endif -%}
        coalesce(cast({{ column }} as string), '\\N')
    {%- endfor -%}
    )))
{%- endmacro %}
