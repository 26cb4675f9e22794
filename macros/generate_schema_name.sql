{#-
    Custom schemas are used as-is (staging, dwh, marts), not prefixed with the target schema,
    with var('build_schema_suffix') appended for every model of a gated layer (meta.layer):
    `_dev` by default, so an analytics engineer's plain `dbt build` never writes where readers
    look; `_audit` in the pipeline, which checks each layer there and then publishes it to the
    schema itself (write-audit-publish, flows/warehouse: publish, by column name); `` for the
    docs of the published tables (make docs).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set layer = ((node.config or {}).get('meta') or {}).get('layer') if node is not none else none -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif layer -%}
        {{ custom_schema_name | trim }}{{ var('build_schema_suffix', '_dev') or '' }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
