{{
    config(
        event_time='event_date',
        partition_by=date_partition('event_date'),
        cluster_by=['algorithm', 'slot'],
        meta={'window': {'lag_days': var('lateness_days'), 'lead_days': 0}},
    )
}}

with

recommended_events as (
    select
        event_date,
        algorithm,
        slot,
        event_type
    from {{ ref('fct_events') }}
    where
        {{ in_window('event_date') }}
        and event_type in ('impression', 'click', 'apply')
        and algorithm is not null
        and slot is not null
),

slot_counts as (
    select
        event_date,
        algorithm,
        slot,
        sum(case when event_type = 'impression' then 1 else 0 end) as impressions,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks,
        sum(case when event_type = 'apply' then 1 else 0 end) as applies
    from recommended_events
    group by event_date, algorithm, slot
)

select
    event_date,
    algorithm,
    slot,
    cast(impressions as {{ dbt.type_bigint() }}) as impressions,
    cast(clicks as {{ dbt.type_bigint() }}) as clicks,
    cast(applies as {{ dbt.type_bigint() }}) as applies,
    {{ ratio('clicks', 'impressions') }} as ctr,
    {{ ratio('applies', 'clicks') }} as apply_rate
from slot_counts
