{{
    config(
        event_time='landed_date',
        partition_by=date_partition('landed_date'),
        on_schema_change='append_new_columns',
        meta={'window': {'lag_days': 0, 'lead_days': 0}},
    )
}}

{#- A table, built per lake day: each payload is parsed once, when its day is landed, not again
    for every later run that reads the day. Its fields, their order and types are the source's
    meta.sluice.fields (declared once; landing reads them too): a field added there appears
    here, before loaded_at, with no edit to this file. -#}
{%- set fields = lake_fields('app', 'events') -%}
{%- set renames = {'event_time': 'event_at'} -%}

with

source as (
    select
        dt,
        source_file,
        line_number,
        payload,
        loaded_at
    from {{ source('app', 'events') }}
    where {{ in_window('dt') }}
),

-- each payload is parsed once into text columns, then typed
parsed as (
    select
        dt,
        source_file,
        line_number,
        loaded_at,
        -- one column per field, named after it
        {{ json_texts('payload', fields | map(attribute='name') | list) }}  -- noqa: AL03
    from source
),

-- every field typed by its meta type; event_time becomes event_at
typed as (
    select
        dt as landed_date,
        source_file,
        line_number,
        {%- for field in fields %}
            {{ typed_column(field.name, field.type, renames.get(field.name, field.name)) }},
        {%- endfor %}
        loaded_at
    from parsed
)

select
    landed_date,
    source_file,
    line_number,
    {%- for field in fields %}
        {{ renames.get(field.name, field.name) }},
        {%- if field.name == 'event_time' %}
            cast(event_at as date) as event_date,
        {%- endif %}
    {%- endfor %}
    loaded_at
from typed
