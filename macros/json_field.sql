{#-
    One field of a JSON payload, typed: data_type is one of string, integer, boolean, date,
    timestamp (the `type` vocabulary of the source meta `sluice.fields`). Values that do not
    convert become null (landing already quarantined bad types).
-#}
{% macro json_field(column, field, data_type='string') %}
    {{ return(text_as(json_text(column, field), data_type, field)) }}
{% endmacro %}
