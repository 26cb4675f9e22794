-- The weights of every test and date sum to exactly 1, and none is below the exploration
-- floor (capped at 1 / patterns). Returns the offending (date, test) pairs.
{{ config(severity='error') }}

with

weights as (
    select
        weights_date,
        ab_test_id,
        weight
    from {{ ref('bandit_weights') }}
),

per_test as (
    select
        weights_date,
        ab_test_id,
        sum(weight) as total_weight,
        min(weight) as smallest_weight,
        count(*) as patterns
    from weights
    group by weights_date, ab_test_id
)

select
    weights_date,
    ab_test_id,
    total_weight,
    smallest_weight,
    patterns
from per_test
where
    total_weight != 1
    or smallest_weight < least({{ var('bandit_exploration_floor') }}, 1.0 / patterns) - 0.000001
