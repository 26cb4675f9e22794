{{
    config(
        event_time='event_date',
        partition_by=date_partition('event_date'),
        cluster_by=['ab_test_id', 'pattern_id'],
        meta={'window': {'lag_days': var('lateness_days'), 'lead_days': 0}},
    )
}}

{#- z for a two-sided 95% interval. -#}
{%- set z = 1.96 -%}
{%- set z_squared = (z * z) | round(6) -%}

with

events as (
    select
        event_date,
        event_type,
        user_id,
        ab_test_id,
        pattern_id
    from {{ ref('fct_events') }}
    where
        {{ in_window('event_date') }}
        and event_type in ('ab_exposure', 'apply')
),

exposures as (
    select distinct
        event_date,
        ab_test_id,
        pattern_id,
        user_id
    from events
    where event_type = 'ab_exposure'
),

applying_users as (
    select distinct
        event_date,
        user_id
    from events
    where event_type = 'apply'
),

pattern_counts as (
    select
        exposures.event_date,
        exposures.ab_test_id,
        exposures.pattern_id,
        count(*) as exposed_users,
        count(applying_users.user_id) as converted_users
    from exposures
    left join applying_users
        on
            exposures.event_date = applying_users.event_date
            and exposures.user_id = applying_users.user_id
    group by
        exposures.event_date,
        exposures.ab_test_id,
        exposures.pattern_id
),

-- Wilson score interval: (center +- margin) / (1 + z^2 / n).
wilson as (
    select
        event_date,
        ab_test_id,
        pattern_id,
        exposed_users,
        converted_users,
        1.0 * converted_users / exposed_users as conversion_rate,
        (
            1.0 * converted_users / exposed_users
            + {{ z_squared }} / (2.0 * exposed_users)
        ) / (1.0 + {{ z_squared }} / exposed_users) as interval_center,
        {{ z }} * sqrt(
            (1.0 * converted_users / exposed_users)
            * (1.0 - 1.0 * converted_users / exposed_users) / exposed_users
            + {{ z_squared }} / (4.0 * exposed_users * exposed_users)
        ) / (1.0 + {{ z_squared }} / exposed_users) as interval_margin
    from pattern_counts
)

select
    event_date,
    ab_test_id,
    pattern_id,
    cast(exposed_users as {{ dbt.type_bigint() }}) as exposed_users,
    cast(converted_users as {{ dbt.type_bigint() }}) as converted_users,
    cast(round(conversion_rate, 6) as {{ type_rate() }}) as conversion_rate,
    cast(
        round(greatest(interval_center - interval_margin, 0.0), 6) as {{ type_rate() }}
    ) as conversion_rate_low,
    cast(
        round(least(interval_center + interval_margin, 1.0), 6) as {{ type_rate() }}
    ) as conversion_rate_high
from wilson
