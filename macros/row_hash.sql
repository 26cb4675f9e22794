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
