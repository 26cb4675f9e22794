with

source as (
    select
        dt,
        source_file,
        line_number,
        payload,
        loaded_at
    from {{ source('app', 'events') }}
),

typed as (
    select
        dt as landed_date,
        source_file,
        line_number,
        {{ json_field('payload', 'event_id') }} as event_id,
        {{ json_field('payload', 'event_type') }} as event_type,
        {{ json_field('payload', 'event_time', 'timestamp') }} as event_at,
        {{ json_field('payload', 'user_id') }} as user_id,
        {{ json_field('payload', 'session_id') }} as session_id,
        {{ json_field('payload', 'platform') }} as platform,
        {{ json_field('payload', 'job_id') }} as job_id,
        {{ json_field('payload', 'algorithm') }} as algorithm,
        {{ json_field('payload', 'slot', 'integer') }} as slot,
        {{ json_field('payload', 'ab_test_id') }} as ab_test_id,
        {{ json_field('payload', 'pattern_id') }} as pattern_id,
        {{ json_field('payload', 'app_version') }} as app_version,
        loaded_at
    from source
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
