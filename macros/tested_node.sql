{#- Inside a generic test: the graph node (model) the test is attached to, or none. -#}
{% macro tested_node() %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- if attached and attached in graph.nodes -%}
        {{ return(graph.nodes[attached]) }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}
