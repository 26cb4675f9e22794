{#-
    One select item of a lake field: its text typed by the source-meta type (text_as) and named
    `column`; just `column` when the text is already that column and needs no conversion (a
    string field keeping its name), so no column is aliased to itself.
-#}
{% macro typed_column(text, data_type, column) %}
    {%- set typed = text_as(text, data_type, column) -%}
    {%- if typed == column -%}
        {{ return(column) }}
    {%- endif -%}
    {{ return(typed ~ ' as ' ~ column) }}
{% endmacro %}
