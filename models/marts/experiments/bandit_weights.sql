{{
    config(
        event_time='weights_date',
        partition_by=date_partition('weights_date'),
        cluster_by=['ab_test_id', 'pattern_id'],
        meta={
            'window': {
                'lag_days': (var('lateness_days') | int) - 1,
                'lead_days': var('bandit_lookback_days') | int,
            },
            'reads': {
                'fct_events': {'lag_days': var('bandit_lookback_days') | int, 'lead_days': -1},
                'ab_pattern_results': {
                    'lag_days': var('bandit_lookback_days') | int, 'lead_days': -1,
                },
            },
        },
    )
}}

{#- Weights for date W learn from event dates [W - lookback_days, W - 1]. -#}
{%- set lookback_days = var('bandit_lookback_days') | int -%}
{%- if lookback_days < 1 -%}
    {{ exceptions.raise_compiler_error(
        "var 'bandit_lookback_days' must be an integer >= 1, got " ~ var('bandit_lookback_days')
    ) }}
{%- endif -%}
{%- set exploration_floor = var('bandit_exploration_floor') | float -%}
{%- if not (0 <= exploration_floor < 1) -%}
    {{ exceptions.raise_compiler_error("var 'bandit_exploration_floor' must be in [0, 1), got " ~ exploration_floor) }}
{%- endif -%}

with

event_days as (
    select distinct event_date
    from {{ ref('fct_events') }}
    where {{ in_window('event_date', upstream='fct_events') }}
),

daily_results as (
    select
        event_date,
        ab_test_id,
        pattern_id,
        exposed_users,
        converted_users
    from {{ ref('ab_pattern_results') }}
    where {{ in_window('event_date', upstream='ab_pattern_results') }}
),

pattern_versions as (
    select
        ab_test_id,
        pattern_id,
        is_active,
        valid_from,
        valid_to
    from {{ ref('dim_ab_patterns') }}
),

-- Only dates whose previous day has events: a date is never computed before its data exists.
weights_dates as (
    select {{ add_days('event_date', 1) }} as weights_date
    from event_days
    where {{ in_window(add_days('event_date', 1)) }}
),

-- The arms of each test: its patterns active in the ab_patterns dump of the previous day.
arms as (
    select
        weights_dates.weights_date,
        pattern_versions.ab_test_id,
        pattern_versions.pattern_id
    from weights_dates
    inner join pattern_versions
        on
            {{ add_days('weights_dates.weights_date', -1) }} >= pattern_versions.valid_from
            and (
                pattern_versions.valid_to is null
                or {{ add_days('weights_dates.weights_date', -1) }} < pattern_versions.valid_to
            )
    where pattern_versions.is_active
),

arm_results as (
    select
        arms.weights_date,
        arms.ab_test_id,
        arms.pattern_id,
        coalesce(sum(daily_results.exposed_users), 0) as exposures_28d,
        coalesce(sum(daily_results.converted_users), 0) as conversions_28d
    from arms
    left join daily_results
        on
            arms.ab_test_id = daily_results.ab_test_id
            and arms.pattern_id = daily_results.pattern_id
            and daily_results.event_date between {{ add_days('arms.weights_date', -lookback_days) }}
            and {{ add_days('arms.weights_date', -1) }}
    group by arms.weights_date, arms.ab_test_id, arms.pattern_id
),

-- Beta(1 + conversions, 1 + failures) posterior mean, and the test's arm count and total.
posteriors as (
    select
        weights_date,
        ab_test_id,
        pattern_id,
        exposures_28d,
        conversions_28d,
        (1.0 + conversions_28d) / (2.0 + exposures_28d) as posterior_mean,
        count(*) over (partition by weights_date, ab_test_id) as arm_count,
        sum((1.0 + conversions_28d) / (2.0 + exposures_28d)) over (
            partition by weights_date, ab_test_id
        ) as posterior_total
    from arm_results
),

-- Every arm gets the floor (at most 1 / arms); the rest is shared by posterior mean.
floored as (
    select
        weights_date,
        ab_test_id,
        pattern_id,
        exposures_28d,
        conversions_28d,
        posterior_mean,
        cast(
            round(
                least({{ exploration_floor }}, 1.0 / arm_count)
                + (1.0 - arm_count * least({{ exploration_floor }}, 1.0 / arm_count))
                * posterior_mean / posterior_total,
                6
            ) as {{ type_rate() }}
        ) as rounded_weight
    from posteriors
),

-- Rounding leaves a few millionths; the largest arm absorbs them so weights sum to exactly 1.
normalised as (
    select
        weights_date,
        ab_test_id,
        pattern_id,
        exposures_28d,
        conversions_28d,
        posterior_mean,
        rounded_weight,
        1 - sum(rounded_weight) over (partition by weights_date, ab_test_id) as rounding_residual,
        row_number() over (
            partition by weights_date, ab_test_id
            order by rounded_weight desc, pattern_id asc
        ) as weight_rank
    from floored
)

select
    weights_date,
    ab_test_id,
    pattern_id,
    cast(exposures_28d as {{ dbt.type_bigint() }}) as exposures_28d,
    cast(conversions_28d as {{ dbt.type_bigint() }}) as conversions_28d,
    cast(round(posterior_mean, 6) as {{ type_rate() }}) as posterior_mean,
    cast(
        rounded_weight + case when weight_rank = 1 then rounding_residual else 0 end
        as {{ type_rate() }}
    ) as weight
from normalised
