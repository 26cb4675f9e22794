with

source as (
    select
        dt,
        source_file,
        line_number,
        payload
    from {{ source('app_db', 'applications') }}
)

select
    dt as dump_date,
    source_file,
    line_number,
    {{ json_field('payload', 'application_id') }} as application_id,
    {{ json_field('payload', 'user_id') }} as user_id,
    {{ json_field('payload', 'job_id') }} as job_id,
    {{ json_field('payload', 'applied_at', 'timestamp') }} as applied_at,
    {{ json_field('payload', 'status') }} as status,
    {{ json_field('payload', 'status_updated_at', 'timestamp') }} as status_updated_at
from source
