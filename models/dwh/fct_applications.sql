{{
    config(
        event_time='status_date',
        partition_by=date_partition('status_date'),
        cluster_by=['status', 'job_id'],
        full_refresh=never_full_refresh(),
        meta={'window': {'lag_days': 0, 'lead_days': 1}},
    )
}}

with

application_changes as (
    select
        change_date,
        application_id,
        user_id,
        job_id,
        applied_at,
        status,
        previous_status
    from {{ ref('int_applications_changed') }}
    where
        {{ in_window('change_date') }}
        and not is_deleted
),

-- A new application, or a dump row whose status differs from the day before.
status_changes as (
    select
        application_id,
        user_id,
        job_id,
        status,
        previous_status,
        change_date as status_date,
        cast(applied_at as date) as applied_date
    from application_changes
    where
        status is not null
        and (previous_status is null or status != previous_status)
)

select
    application_id,
    user_id,
    job_id,
    status,
    previous_status,
    status_date,
    applied_date,
    {{ dbt.datediff('applied_date', 'status_date', 'day') }}
        as days_since_applied
from status_changes
