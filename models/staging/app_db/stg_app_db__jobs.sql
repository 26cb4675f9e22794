with

source as (
    select
        dt,
        source_file,
        line_number,
        payload
    from {{ source('app_db', 'jobs') }}
)

select
    dt as dump_date,
    source_file,
    line_number,
    {{ json_field('payload', 'job_id') }} as job_id,
    {{ json_field('payload', 'company_id') }} as company_id,
    {{ json_field('payload', 'title') }} as title,
    {{ json_field('payload', 'occupation') }} as occupation,
    {{ json_field('payload', 'salary_min', 'integer') }} as salary_min,
    {{ json_field('payload', 'salary_max', 'integer') }} as salary_max,
    {{ json_field('payload', 'is_open', 'boolean') }} as is_open,
    {{ json_field('payload', 'posted_date', 'date') }} as posted_date,
    {{ json_field('payload', 'updated_at', 'timestamp') }} as updated_at
from source
