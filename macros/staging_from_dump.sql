{#-
    The body of a stg_app_db__ model: one row per row of a daily dump, its lake partition as
    dump_date, its file and line, then every field of the source's meta.sluice.fields typed by
    its meta type, in the YAML's order. A field added to the source YAML appears without an
    edit here or in the model.
-#}
{% macro staging_from_dump(source_name, table_name) %}
with

source as (
    select
        dt,
        source_file,
        line_number,
        payload
    from {{ source(source_name, table_name) }}
)

select
    dt as dump_date,
    source_file,
    line_number
    {%- for field in lake_fields(source_name, table_name) %},
    {{ typed_column(json_text('payload', field.name), field.type, field.name) }}
    {%- endfor %}
from source
{% endmacro %}
