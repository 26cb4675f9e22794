{{
    config(
        event_time='event_date',
        partition_by=date_partition('event_date'),
        cluster_by=['event_type', 'platform'],
        full_refresh=never_full_refresh(),
        require_partition_filter=require_partition_filter(),
        meta={
            'window': {
                'lag_days': var('lateness_days'),
                'lead_days': 0,
                'lake_day_column': 'landed_date',
            },
            'reads': {'stg_app__events': {'lag_days': 0, 'lead_days': var('lateness_days')}},
        },
    )
}}

{#- Event dates [D-L, D] are decided from every lake day that can hold them, [D-L, D+L]; only
    their rows landed on D or later are written: the earliest copy of an event wins, so an
    earlier lake day's rows are final (meta.window.lake_day_column). -#}
{%- set lateness_days = var('lateness_days') | int -%}

with

-- Landing quarantines events outside [landed_date - L, landed_date]; applying the same rule
-- here keeps a full rebuild equal to the windowed runs even if one slipped through.
valid_copies as (
    select
        event_id,
        event_type,
        event_at,
        event_date,
        user_id,
        session_id,
        platform,
        job_id,
        algorithm,
        slot,
        ab_test_id,
        pattern_id,
        app_version,
        landed_date,
        source_file,
        line_number
    from {{ ref('stg_app__events') }}
    where
        {{ in_window('landed_date', upstream='stg_app__events') }}
        and event_date between {{ add_days('landed_date', -lateness_days) }} and landed_date
        and event_id is not null
),

-- Events with a copy landed before the run's first lake day: that copy or an earlier one is
-- their first, and it is final, so the run writes none of their rows (none in a full build).
decided_earlier as (
    select event_id
    from valid_copies
    where {{ before_window_floor() }}
)

-- The first copy of an event by lake day, file and line wins; the window's dates are kept only
-- after that choice, so a later copy with another date never stands in for it. The events
-- decided earlier are left out first, so the choice ranks copies of the run's lake days only.
select
    event_id,
    event_type,
    event_at,
    event_date,
    user_id,
    session_id,
    platform,
    job_id,
    algorithm,
    slot,
    ab_test_id,
    pattern_id,
    app_version,
    landed_date,
    source_file,
    line_number
from valid_copies
where event_id not in (select decided_earlier.event_id from decided_earlier)
qualify
    row_number() over (
        partition by event_id
        order by landed_date asc, source_file asc, line_number asc
    ) = 1
    and {{ in_window('event_date') }}
