with

source as (
    select
        dt,
        source_file,
        line_number,
        payload
    from {{ source('app_db', 'ab_patterns') }}
)

select
    dt as dump_date,
    source_file,
    line_number,
    {{ json_field('payload', 'ab_test_id') }} as ab_test_id,
    {{ json_field('payload', 'pattern_id') }} as pattern_id,
    {{ json_field('payload', 'description') }} as description,
    {{ json_field('payload', 'is_active', 'boolean') }} as is_active,
    {{ json_field('payload', 'started_date', 'date') }} as started_date
from source
