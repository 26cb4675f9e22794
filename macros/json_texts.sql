{#-
    Several fields of a JSON payload as text columns named after the fields, for a select list.
    DuckDB parses the JSON again for every `->>`; its version parses each payload once. With
    var portable_json (lineage only) every adapter renders the default form.
-#}
{% macro json_texts(column, fields) %}
    {%- for field in fields if not modules.re.fullmatch('[a-z_][a-z0-9_]*', field) -%}
        {{ exceptions.raise_compiler_error("json_texts: '" ~ field ~ "' is not a plain field name") }}
    {%- endfor -%}
    {#- Column lineage (flows/project/lineage.py) compiles with var portable_json: the default
        form, one `->>` per field, which a SQL parser traces to the payload field. -#}
    {%- if var('portable_json', false) -%}
        {{ return(default__json_texts(column, fields)) }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_texts')(column, fields)) }}
{% endmacro %}


{% macro default__json_texts(column, fields) -%}
    {%- for field in fields -%}
        {{ json_text(column, field) }} as {{ field }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}


{#- One json_transform to a struct of texts, unnested into one column per field. -#}
{% macro duckdb__json_texts(column, fields) -%}
    {%- set shape = [] -%}
    {%- for field in fields -%}
        {%- do shape.append('"' ~ field ~ '": "VARCHAR"') -%}
    {%- endfor -%}
    unnest(json_transform({{ column }}, '{{ "{" ~ (shape | join(", ")) ~ "}" }}'))
{%- endmacro %}
