{{
    config(
        event_time='event_date',
        partition_by=date_partition('event_date'),
        cluster_by=['platform'],
        meta={'window': {'lag_days': var('lateness_days'), 'lead_days': 0}},
    )
}}

with

events as (
    select
        event_date,
        platform,
        user_id,
        event_type
    from {{ ref('fct_events') }}
    where {{ in_window('event_date') }}
),

daily_counts as (
    select
        event_date,
        platform,
        count(distinct user_id) as active_users,
        sum(case when event_type = 'search' then 1 else 0 end) as searches,
        sum(case when event_type = 'impression' then 1 else 0 end) as impressions,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks,
        sum(case when event_type = 'apply' then 1 else 0 end) as applies
    from events
    group by event_date, platform
)

select
    event_date,
    platform,
    cast(active_users as {{ dbt.type_bigint() }}) as active_users,
    cast(searches as {{ dbt.type_bigint() }}) as searches,
    cast(impressions as {{ dbt.type_bigint() }}) as impressions,
    cast(clicks as {{ dbt.type_bigint() }}) as clicks,
    cast(applies as {{ dbt.type_bigint() }}) as applies,
    {{ ratio('clicks', 'impressions') }} as ctr,
    {{ ratio('applies', 'clicks') }} as apply_rate
from daily_counts
