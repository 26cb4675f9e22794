-- The plain-SQL limit of one Sluice lake day, the marts with wide windows (after plain_day.sql
-- and plain_dumps.sql, same transaction): application_funnel rebuilds applied dates [D-28, D+1]
-- from the statuses of the next 28 days; bandit_weights rebuilds weights dates [D-2, D+28] from
-- the A/B results of the 28 days before each (lookback 28 days, exploration floor 0.05, the
-- dbt_project.yml defaults). Parameter: $day.

create table if not exists plain.application_funnel (
    applied_date date, occupation varchar, applications bigint, reached_screening bigint,
    reached_interview bigint, reached_offer bigint, hired bigint, rejected bigint,
    withdrawn bigint
);

create table if not exists plain.bandit_weights (
    weights_date date, ab_test_id varchar, pattern_id varchar, exposures_28d bigint,
    conversions_28d bigint, posterior_mean numeric(28, 6), weight numeric(28, 6)
);

delete from plain.application_funnel where applied_date between $day - 28 and $day + 1;

insert into plain.application_funnel
with applications as (
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
    from plain.fct_applications
    where
        status_date between $day - 28 and $day + 29
        and applied_date between $day - 28 and $day + 1
        and days_since_applied between 0 and 28
    group by application_id, applied_date
)
select
    applications.applied_date,
    coalesce(dim_jobs.occupation, 'unknown') as occupation,
    count(*),
    sum(case when furthest_stage >= 1 then 1 else 0 end),
    sum(case when furthest_stage >= 2 then 1 else 0 end),
    sum(case when furthest_stage >= 3 then 1 else 0 end),
    sum(case when furthest_stage >= 4 then 1 else 0 end),
    sum(was_rejected),
    sum(was_withdrawn)
from applications
left join plain.dim_jobs as dim_jobs
    on
        applications.job_id = dim_jobs.job_id
        and applications.applied_date >= dim_jobs.valid_from
        and (dim_jobs.valid_to is null or applications.applied_date < dim_jobs.valid_to)
group by applications.applied_date, coalesce(dim_jobs.occupation, 'unknown');

delete from plain.bandit_weights where weights_date between $day - 2 and $day + 28;

insert into plain.bandit_weights
with weights_dates as (
    select distinct event_date + 1 as weights_date
    from plain.fct_events
    where
        event_date between $day - 30 and $day + 27
        and event_date + 1 between $day - 2 and $day + 28
),
-- The arms of each test: its patterns active in the ab_patterns dump of the previous day.
arms as (
    select weights_dates.weights_date, dim.ab_test_id, dim.pattern_id
    from weights_dates
    inner join plain.dim_ab_patterns as dim
        on
            weights_dates.weights_date - 1 >= dim.valid_from
            and (dim.valid_to is null or weights_dates.weights_date - 1 < dim.valid_to)
    where dim.is_active
),
arm_results as (
    select
        arms.weights_date,
        arms.ab_test_id,
        arms.pattern_id,
        coalesce(sum(results.exposed_users), 0) as exposures_28d,
        coalesce(sum(results.converted_users), 0) as conversions_28d
    from arms
    left join plain.ab_pattern_results as results
        on
            arms.ab_test_id = results.ab_test_id
            and arms.pattern_id = results.pattern_id
            and results.event_date between arms.weights_date - 28 and arms.weights_date - 1
            and results.event_date between $day - 30 and $day + 27
    group by arms.weights_date, arms.ab_test_id, arms.pattern_id
),
-- Beta(1 + conversions, 1 + failures) posterior mean; every arm gets the floor (at most
-- 1 / arms), the rest is shared by posterior mean, rounded; the largest arm takes the residue.
posteriors as (
    select
        *,
        (1.0 + conversions_28d) / (2.0 + exposures_28d) as posterior_mean,
        count(*) over (partition by weights_date, ab_test_id) as arm_count,
        sum((1.0 + conversions_28d) / (2.0 + exposures_28d)) over (
            partition by weights_date, ab_test_id
        ) as posterior_total
    from arm_results
),
floored as (
    select
        *,
        cast(
            round(
                least(0.05, 1.0 / arm_count)
                + (1.0 - arm_count * least(0.05, 1.0 / arm_count))
                * posterior_mean / posterior_total,
                6
            ) as numeric(28, 6)
        ) as rounded_weight
    from posteriors
),
normalised as (
    select
        *,
        1 - sum(rounded_weight) over (partition by weights_date, ab_test_id)
            as rounding_residual,
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
    exposures_28d,
    conversions_28d,
    cast(round(posterior_mean, 6) as numeric(28, 6)),
    cast(
        rounded_weight + case when weight_rank = 1 then rounding_residual else 0 end
        as numeric(28, 6)
    )
from normalised;
