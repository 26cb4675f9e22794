{{
    config(
        event_time='landed_date',
        partition_by=date_partition('landed_date'),
        on_schema_change='append_new_columns',
        meta={'window': {'lag_days': 0, 'lead_days': 0}},
    )
}}

{#- A table, built per lake day: each payload is parsed once, when its day is landed, not again
    for every later run that reads the day. -#}
{%- set event_fields = [
    'event_id', 'event_type', 'event_time', 'user_id', 'session_id', 'platform',
    'job_id', 'algorithm', 'slot', 'ab_test_id', 'pattern_id', 'app_version',
] -%}

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
        {{ json_texts('payload', event_fields) }}  -- noqa: AL03
    from source
),

typed as (
    select
        dt as landed_date,
        source_file,
        line_number,
        event_id,
        event_type,
        {{ text_as('event_time', 'timestamp') }} as event_at,
        user_id,
        session_id,
        platform,
        job_id,
        algorithm,
        {{ text_as('slot', 'integer') }} as slot,
        ab_test_id,
        pattern_id,
        app_version,
        loaded_at
    from parsed
)

select
    landed_date,
    source_file,
    line_number,
    event_id,
    event_type,
    event_at,
    cast(event_at as date) as event_date,
    user_id,
    session_id,
    platform,
    job_id,
    algorithm,
    slot,
    ab_test_id,
    pattern_id,
    app_version,
    loaded_at
from typed
