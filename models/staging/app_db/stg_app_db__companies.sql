with

source as (
    select
        dt,
        source_file,
        line_number,
        payload
    from {{ source('app_db', 'companies') }}
)

select
    dt as dump_date,
    source_file,
    line_number,
    {{ json_field('payload', 'company_id') }} as company_id,
    {{ json_field('payload', 'company_name') }} as company_name,
    {{ json_field('payload', 'industry') }} as industry,
    {{ json_field('payload', 'employee_band') }} as employee_band,
    {{ json_field('payload', 'updated_at', 'timestamp') }} as updated_at
from source
