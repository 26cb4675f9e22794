{#-
    The change rows of a daily full dump: one row per key per dump day whose row differs from
    the previous day's dump (change_type 'new' or 'changed'), and a 'deleted' row when a key of
    the previous day's dump is missing. A dump day without a dump the day before is a baseline
    (is_baseline): all its rows are 'new'. A day without any dump rows produces nothing.
    Reads dump days [window start - 1, window end]; the model writes change dates of its window.

    staging_model: ref() of the stg_ model (columns dump_date, source_file, line_number, key, columns)
    key: list of key columns; columns: the attribute columns (all hashed for change detection);
    previous_columns: attribute columns also output as previous_<column> (value the day before).
-#}
{% macro snapshot_changes(staging_model, key, columns, previous_columns=[]) %}
{%- set key = [key] if key is string else key -%}
{%- set tracked = key + columns -%}
with

dump_rows as (
    select
        dump_date,
        {%- for column in tracked %}
        {{ column }},
        {%- endfor %}
        {{ row_hash(columns) }} as row_hash,
        row_number() over (
            partition by dump_date, {{ key | join(', ') }}
            order by source_file, line_number
        ) as copy_number
    from {{ staging_model }}
    where
        {{ in_window('dump_date', upstream=staging_model.identifier) }}
        {%- for column in key %}
        and {{ column }} is not null
        {%- endfor %}
),

snapshots as (
    select
        dump_date,
        {{ add_days('dump_date', 1) }} as next_dump_date,
        {%- for column in tracked %}
        {{ column }},
        {%- endfor %}
        row_hash
    from dump_rows
    where copy_number = 1
),

dump_days as (
    select distinct dump_date
    from snapshots
),

change_days as (
    select
        dump_days.dump_date as change_date,
        previous_days.dump_date is null as is_baseline
    from dump_days
    left join dump_days as previous_days
        on previous_days.dump_date = {{ add_days('dump_days.dump_date', -1) }}
    where {{ in_window('dump_days.dump_date') }}
),

new_or_changed as (
    select
        change_days.change_date,
        {%- for column in tracked %}
        current_rows.{{ column }},
        {%- endfor %}
        {%- for column in previous_columns %}
        previous_rows.{{ column }} as previous_{{ column }},
        {%- endfor %}
        current_rows.row_hash,
        case when previous_rows.row_hash is null then 'new' else 'changed' end as change_type,
        change_days.is_baseline
    from change_days
    inner join snapshots as current_rows
        on change_days.change_date = current_rows.dump_date
    left join snapshots as previous_rows
        on
            current_rows.dump_date = previous_rows.next_dump_date
            {%- for column in key %}
            and current_rows.{{ column }} = previous_rows.{{ column }}
            {%- endfor %}
    where
        previous_rows.row_hash is null
        or previous_rows.row_hash != current_rows.row_hash
),

deleted as (
    select
        change_days.change_date,
        {%- for column in tracked %}
        previous_rows.{{ column }},
        {%- endfor %}
        {%- for column in previous_columns %}
        previous_rows.{{ column }} as previous_{{ column }},
        {%- endfor %}
        previous_rows.row_hash,
        'deleted' as change_type,
        change_days.is_baseline
    from change_days
    inner join snapshots as previous_rows
        on change_days.change_date = previous_rows.next_dump_date
    left join snapshots as current_rows
        on
            previous_rows.next_dump_date = current_rows.dump_date
            {%- for column in key %}
            and previous_rows.{{ column }} = current_rows.{{ column }}
            {%- endfor %}
    where current_rows.row_hash is null
),

changes as (
    select
        change_date,
        {%- for column in tracked %}
        {{ column }},
        {%- endfor %}
        {%- for column in previous_columns %}
        previous_{{ column }},
        {%- endfor %}
        row_hash,
        change_type,
        is_baseline
    from new_or_changed
    union all
    select
        change_date,
        {%- for column in tracked %}
        {{ column }},
        {%- endfor %}
        {%- for column in previous_columns %}
        previous_{{ column }},
        {%- endfor %}
        row_hash,
        change_type,
        is_baseline
    from deleted
)

select
    change_date,
    {%- for column in tracked %}
    {{ column }},
    {%- endfor %}
    {%- for column in previous_columns %}
    previous_{{ column }},
    {%- endfor %}
    row_hash,
    change_type,
    change_type = 'deleted' as is_deleted,
    is_baseline
from changes
{%- endmacro %}
