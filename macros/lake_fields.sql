{#-
    The fields of a lake table as its source YAML declares them, once, in `meta.sluice.fields`
    (landing derives its checks from the same place): a list of {name, type} in the YAML's
    order, type defaulting to string as in landing. dbt fills `graph` only when it executes, so
    at parse time the list is empty and callers render their fixed columns alone.
-#}
{% macro lake_fields(source_name, table_name) %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set fields = [] -%}
    {%- for node in graph.sources.values()
        if node.source_name == source_name and node.name == table_name -%}
        {%- set meta = (node.config or {}).get('meta') or node.meta or {} -%}
        {%- for name, spec in ((meta.get('sluice') or {}).get('fields') or {}).items() -%}
            {%- do fields.append({'name': name, 'type': (spec or {}).get('type', 'string')}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not fields -%}
        {{ exceptions.raise_compiler_error(
            "lake_fields: source table " ~ source_name ~ "." ~ table_name
            ~ " declares no meta.sluice.fields (see its _<source>__sources.yml)"
        ) }}
    {%- endif -%}
    {{ return(fields) }}
{% endmacro %}
