{#-
    Custom schemas are used as-is (staging, dwh, marts), not prefixed with the target schema.
    var('publish_schema_suffix') is reserved for a later blue/green publish (e.g. `_audit`);
    it is empty today, so relations are dwh.fct_events, marts.daily_kpis.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ var('publish_schema_suffix', '') or '' }}
    {%- endif -%}
{%- endmacro %}
