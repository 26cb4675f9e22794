{{
    config(
        event_time='applied_date',
        partition_by=date_partition('applied_date'),
        cluster_by=['occupation'],
        meta={
            'window': {'lag_days': var('funnel_horizon_days') | int, 'lead_days': 1},
            'reads': {
                'fct_applications': {'lag_days': 0, 'lead_days': var('funnel_horizon_days') | int},
            },
        },
    )
}}

{#- A cohort counts the statuses seen within this many days of applying. -#}
{%- set horizon_days = var('funnel_horizon_days') | int -%}
{%- if horizon_days < 1 -%}
    {{ exceptions.raise_compiler_error(
        "var 'funnel_horizon_days' must be an integer >= 1, got " ~ var('funnel_horizon_days')
    ) }}
{%- endif -%}

with

status_history as (
    select
        application_id,
        job_id,
        status,
        applied_date,
        days_since_applied
    from {{ ref('fct_applications') }}
    where
        {{ in_window('status_date', upstream='fct_applications') }}
        and {{ in_window('applied_date') }}
        and days_since_applied between 0 and {{ horizon_days }}
),

job_versions as (
    select
        job_id,
        occupation,
        valid_from,
        valid_to
    from {{ ref('dim_jobs') }}
),

applications as (
    select
        application_id,
        applied_date,
        min(job_id) as job_id,
        max(
            case status
                when 'applied' then 0
                when 'screening' then 1
                when 'interview' then 2
                when 'offer' then 3
                when 'hired' then 4
            end
        ) as furthest_stage,
        max(case when status = 'rejected' then 1 else 0 end) as was_rejected,
        max(case when status = 'withdrawn' then 1 else 0 end) as was_withdrawn
    from status_history
    group by application_id, applied_date
),

applications_with_occupation as (
    select
        applications.applied_date,
        applications.furthest_stage,
        applications.was_rejected,
        applications.was_withdrawn,
        coalesce(job_versions.occupation, 'unknown') as occupation
    from applications
    left join job_versions
        on
            applications.job_id = job_versions.job_id
            and applications.applied_date >= job_versions.valid_from
            and (job_versions.valid_to is null or applications.applied_date < job_versions.valid_to)
),

cohorts as (
    select
        applied_date,
        occupation,
        count(*) as applications,
        sum(case when furthest_stage >= 1 then 1 else 0 end) as reached_screening,
        sum(case when furthest_stage >= 2 then 1 else 0 end) as reached_interview,
        sum(case when furthest_stage >= 3 then 1 else 0 end) as reached_offer,
        sum(case when furthest_stage >= 4 then 1 else 0 end) as hired,
        sum(was_rejected) as rejected,
        sum(was_withdrawn) as withdrawn
    from applications_with_occupation
    group by applied_date, occupation
)

select
    applied_date,
    occupation,
    cast(applications as {{ dbt.type_bigint() }}) as applications,
    cast(reached_screening as {{ dbt.type_bigint() }}) as reached_screening,
    cast(reached_interview as {{ dbt.type_bigint() }}) as reached_interview,
    cast(reached_offer as {{ dbt.type_bigint() }}) as reached_offer,
    cast(hired as {{ dbt.type_bigint() }}) as hired,
    cast(rejected as {{ dbt.type_bigint() }}) as rejected,
    cast(withdrawn as {{ dbt.type_bigint() }}) as withdrawn
from cohorts
