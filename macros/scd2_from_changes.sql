{#-
    SCD2 history of an entity from its int_<table>_changed rows: one row per version with
    valid_from, valid_to (exclusive; null while current) and is_current. A deletion closes the
    open version. A baseline dump (no dump the day before) lists every key that existed, so an
    open key missing from it is closed there too. Rows that repeat the open version are no change.

    changes_model: ref() of the int_ model; key: list of key columns; columns: attribute columns.
-#}
{% macro scd2_from_changes(changes_model, key, columns) %}
{%- set key = [key] if key is string else key -%}
{%- set key_csv = key | join(', ') -%}
with

changes as (
    select
        change_date,
        {%- for column in key + columns %}
        {{ column }},
        {%- endfor %}
        row_hash,
        is_deleted,
        is_baseline
    from {{ changes_model }}
),

baseline_dates as (
    select distinct change_date as baseline_date
    from changes
    where is_baseline
),

known_keys as (
    select
        {{ key_csv }},
        min(change_date) as first_change_date
    from changes
    group by {{ key_csv }}
),

missing_from_baseline as (
    select
        baseline_dates.baseline_date as change_date,
        {%- for column in key %}
        known_keys.{{ column }},
        {%- endfor %}
        {#- changes.* is null here (the anti-join below), typed like the column: a bare null
            is INT64 on BigQuery and would not union with the other branch -#}
        {%- for column in columns %}
        changes.{{ column }},
        {%- endfor %}
        cast(null as {{ dbt.type_string() }}) as row_hash,
        true as is_deleted
    from known_keys
    inner join baseline_dates
        on known_keys.first_change_date < baseline_dates.baseline_date
    left join changes
        on
            baseline_dates.baseline_date = changes.change_date
            {%- for column in key %}
            and known_keys.{{ column }} = changes.{{ column }}
            {%- endfor %}
    where changes.change_date is null
),

all_changes as (
    select
        change_date,
        {%- for column in key + columns %}
        {{ column }},
        {%- endfor %}
        row_hash,
        is_deleted
    from changes
    union all
    select
        change_date,
        {%- for column in key + columns %}
        {{ column }},
        {%- endfor %}
        row_hash,
        is_deleted
    from missing_from_baseline
),

sequenced as (
    select
        change_date,
        {%- for column in key + columns %}
        {{ column }},
        {%- endfor %}
        row_hash,
        is_deleted,
        lag(row_hash) over (partition by {{ key_csv }} order by change_date) as previous_row_hash,
        lag(is_deleted) over (partition by {{ key_csv }} order by change_date) as was_deleted_before
    from all_changes
),

-- Keep the rows that open a version (a value differing from the open one) or close one.
version_boundaries as (
    select
        change_date,
        {%- for column in key + columns %}
        {{ column }},
        {%- endfor %}
        is_deleted
    from sequenced
    where
        case
            when is_deleted then not coalesce(was_deleted_before, true)
            else
                coalesce(was_deleted_before, true)
                or previous_row_hash is null
                or previous_row_hash != row_hash
        end
),

versions as (
    select
        {%- for column in key + columns %}
        {{ column }},
        {%- endfor %}
        change_date as valid_from,
        lead(change_date) over (partition by {{ key_csv }} order by change_date) as valid_to,
        is_deleted
    from version_boundaries
)

select
    {%- for column in key + columns %}
    {{ column }},
    {%- endfor %}
    valid_from,
    valid_to,
    valid_to is null as is_current
from versions
where not is_deleted
{%- endmacro %}
