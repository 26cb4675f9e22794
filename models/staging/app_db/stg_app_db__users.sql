with

source as (
    select
        dt,
        source_file,
        line_number,
        payload
    from {{ source('app_db', 'users') }}
)

select
    dt as dump_date,
    source_file,
    line_number,
    {{ json_field('payload', 'user_id') }} as user_id,
    {{ json_field('payload', 'signup_date', 'date') }} as signup_date,
    {{ json_field('payload', 'region') }} as region,
    {{ json_field('payload', 'occupation_preference') }} as occupation_preference,
    {{ json_field('payload', 'is_active', 'boolean') }} as is_active,
    {{ json_field('payload', 'updated_at', 'timestamp') }} as updated_at
from source
