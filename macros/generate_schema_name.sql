{#-
    Custom schemas are used as-is (staging, dwh, marts), not prefixed with the target schema.
    Write-audit-publish: the pipeline parses the project a second time with
    var('publish_schema_suffix') = '_audit', so the marts layer is built into `marts_audit`,
    checked there, and only then copied into `marts` by the pipeline (flows/warehouse/, publish).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = var('publish_schema_suffix', '') or '' -%}
    {%- set layer = ((node.config or {}).get('meta') or {}).get('layer') if node is not none else none -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif layer == 'marts' -%}
        {{ custom_schema_name | trim }}{{ suffix }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
