-- The plain-SQL limit of one Sluice lake day, dump path: land the app database's daily dumps
-- (users, companies, jobs: CSV; applications, ab_patterns: Parquet) with the field checks of
-- their sources YAML, derive each table's change rows for change dates [D, D+1] from dump
-- days [D-1, D+1], rebuild the SCD2 dimensions from all change rows, then fct_applications
-- (status dates [D, D+1]). Runs after plain_day.sql, in the same transaction (plain_sql.py).
-- Parameters: $day and each table's files ($users_files, $companies_files, $jobs_files,
-- $applications_files, $ab_patterns_files).

create or replace macro plain.utc_timestamp(t) as
case
    when regexp_matches(t, '(Z|[+-]\d{2}:?\d{2})$')
        then cast(try_cast(t as timestamptz) at time zone 'UTC' as timestamp)
    else try_cast(t as timestamp)
end;

create table if not exists plain.users (
    dump_date date, source_file varchar, record bigint, user_id varchar, signup_date date,
    region varchar, occupation_preference varchar, is_active boolean, updated_at timestamp
);

create table if not exists plain.companies (
    dump_date date, source_file varchar, record bigint, company_id varchar,
    company_name varchar, industry varchar, employee_band varchar, updated_at timestamp
);

create table if not exists plain.jobs (
    dump_date date, source_file varchar, record bigint, job_id varchar, company_id varchar,
    title varchar, occupation varchar, salary_min bigint, salary_max bigint, is_open boolean,
    posted_date date, updated_at timestamp
);

create table if not exists plain.applications (
    dump_date date, source_file varchar, record bigint, application_id varchar,
    user_id varchar, job_id varchar, applied_at timestamp, status varchar,
    status_updated_at timestamp
);

create table if not exists plain.ab_patterns (
    dump_date date, source_file varchar, record bigint, ab_test_id varchar,
    pattern_id varchar, description varchar, is_active boolean, started_date date
);

-- Change rows of every dump table: the key and the attributes as JSON objects of typed values.
create table if not exists plain.changes (
    dump_table varchar, change_date date, key json, attributes json,
    previous_attributes json, row_hash varchar, change_type varchar, is_deleted boolean,
    is_baseline boolean
);

create table if not exists plain.fct_applications (
    application_id varchar, user_id varchar, job_id varchar, status varchar,
    previous_status varchar, status_date date, applied_date date, days_since_applied bigint
);

-- Landing: the records that pass the checks of the sources YAML (the rest is quarantine). CSV
-- values are text (empty: null); a record the CSV reader rejects is quarantined too.
delete from plain.users where dump_date = $day;

insert into plain.users
select
    $day, filename, row_number() over (), user_id,
    try_cast(substr(signup_date, 1, 10) as date), region, occupation_preference,
    try_cast(lower(is_active) as boolean), plain.utc_timestamp(updated_at)
from read_csv(
    $users_files, header = true, all_varchar = true, filename = true, ignore_errors = true
)
where
    user_id is not null
    and (signup_date is null or try_cast(signup_date as date) is not null)
    and (is_active is null or try_cast(is_active as boolean) is not null)
    and (updated_at is null or try_cast(updated_at as timestamptz) is not null);

delete from plain.companies where dump_date = $day;

insert into plain.companies
select
    $day, filename, row_number() over (), company_id, company_name, industry, employee_band,
    plain.utc_timestamp(updated_at)
from read_csv(
    $companies_files, header = true, all_varchar = true, filename = true, ignore_errors = true
)
where
    company_id is not null
    and (updated_at is null or try_cast(updated_at as timestamptz) is not null);

delete from plain.jobs where dump_date = $day;

insert into plain.jobs
select
    $day, filename, row_number() over (), job_id, company_id, title, occupation,
    try_cast(salary_min as bigint), try_cast(salary_max as bigint),
    try_cast(lower(is_open) as boolean), try_cast(substr(posted_date, 1, 10) as date),
    plain.utc_timestamp(updated_at)
from read_csv(
    $jobs_files, header = true, all_varchar = true, filename = true, ignore_errors = true
)
where
    job_id is not null
    and (salary_min is null or try_cast(salary_min as bigint) is not null)
    and (salary_max is null or try_cast(salary_max as bigint) is not null)
    and (is_open is null or try_cast(is_open as boolean) is not null)
    and (posted_date is null or try_cast(posted_date as date) is not null)
    and (updated_at is null or try_cast(updated_at as timestamptz) is not null);

delete from plain.applications where dump_date = $day;

insert into plain.applications
select
    $day, filename, file_row_number + 1, application_id, user_id, job_id,
    cast(applied_at as timestamp), status, cast(status_updated_at as timestamp)
from read_parquet($applications_files, filename = true, file_row_number = true)
where
    application_id is not null
    and (
        status is null
        or status in (
            'applied', 'screening', 'interview', 'offer', 'hired', 'rejected', 'withdrawn'
        )
    );

delete from plain.ab_patterns where dump_date = $day;

insert into plain.ab_patterns
select
    $day, filename, file_row_number + 1, ab_test_id, pattern_id, description,
    cast(is_active as boolean), cast(started_date as date)
from read_parquet($ab_patterns_files, filename = true, file_row_number = true)
where ab_test_id is not null and pattern_id is not null;

-- Change rows of change dates [D, D+1]: a key new or changed since the previous day's dump, or
-- missing from it ('deleted'); a dump day without a dump the day before is a baseline.
delete from plain.changes where change_date between $day and $day + 1;

insert into plain.changes
with dump_rows as (
    select
        'users' as dump_table, dump_date, source_file, record,
        to_json(struct_pack(user_id)) as key,
        to_json(
            struct_pack(signup_date, region, occupation_preference, is_active, updated_at)
        ) as attributes
    from plain.users
    union all
    select
        'companies', dump_date, source_file, record, to_json(struct_pack(company_id)),
        to_json(struct_pack(company_name, industry, employee_band, updated_at))
    from plain.companies
    union all
    select
        'jobs', dump_date, source_file, record, to_json(struct_pack(job_id)),
        to_json(struct_pack(
            company_id, title, occupation, salary_min, salary_max, is_open, posted_date,
            updated_at
        ))
    from plain.jobs
    union all
    select
        'applications', dump_date, source_file, record, to_json(struct_pack(application_id)),
        to_json(struct_pack(user_id, job_id, applied_at, status, status_updated_at))
    from plain.applications
    union all
    select
        'ab_patterns', dump_date, source_file, record,
        to_json(struct_pack(ab_test_id, pattern_id)),
        to_json(struct_pack(description, is_active, started_date))
    from plain.ab_patterns
),
snapshots as (
    select dump_table, dump_date, key, attributes, md5(attributes::varchar) as row_hash
    from dump_rows
    where dump_date between $day - 1 and $day + 1
    qualify
        row_number() over (
            partition by dump_table, dump_date, key order by source_file, record
        ) = 1
),
dump_days as (
    select distinct dump_table, dump_date from snapshots
),
change_days as (
    select
        dump_days.dump_table,
        dump_days.dump_date as change_date,
        previous_days.dump_date is null as is_baseline
    from dump_days
    left join dump_days as previous_days
        on
            previous_days.dump_table = dump_days.dump_table
            and previous_days.dump_date = dump_days.dump_date - 1
    where dump_days.dump_date between $day and $day + 1
)
select
    change_days.dump_table, change_days.change_date, current_rows.key,
    current_rows.attributes, previous_rows.attributes, current_rows.row_hash,
    case when previous_rows.row_hash is null then 'new' else 'changed' end, false,
    change_days.is_baseline
from change_days
inner join snapshots as current_rows
    on
        current_rows.dump_table = change_days.dump_table
        and current_rows.dump_date = change_days.change_date
left join snapshots as previous_rows
    on
        previous_rows.dump_table = current_rows.dump_table
        and previous_rows.dump_date = current_rows.dump_date - 1
        and previous_rows.key = current_rows.key
where previous_rows.row_hash is null or previous_rows.row_hash != current_rows.row_hash
union all
select
    change_days.dump_table, change_days.change_date, previous_rows.key,
    previous_rows.attributes, previous_rows.attributes, previous_rows.row_hash, 'deleted', true,
    change_days.is_baseline
from change_days
inner join snapshots as previous_rows
    on
        previous_rows.dump_table = change_days.dump_table
        and previous_rows.dump_date = change_days.change_date - 1
left join snapshots as current_rows
    on
        current_rows.dump_table = previous_rows.dump_table
        and current_rows.dump_date = change_days.change_date
        and current_rows.key = previous_rows.key
where current_rows.row_hash is null;

-- SCD2 versions of every dump table from all its change rows: a deletion closes the open
-- version, so does a baseline dump missing an open key; a row repeating the open one is none.
create or replace temp table versions as
with baseline_dates as (
    select distinct dump_table, change_date as baseline_date
    from plain.changes
    where is_baseline
),
known_keys as (
    select dump_table, key, min(change_date) as first_change_date
    from plain.changes
    group by dump_table, key
),
missing_from_baseline as (
    select
        known_keys.dump_table, baseline_dates.baseline_date as change_date, known_keys.key,
        cast(null as json) as attributes, cast(null as varchar) as row_hash, true as is_deleted
    from known_keys
    inner join baseline_dates
        on
            baseline_dates.dump_table = known_keys.dump_table
            and known_keys.first_change_date < baseline_dates.baseline_date
    left join plain.changes as changes
        on
            changes.dump_table = known_keys.dump_table
            and changes.change_date = baseline_dates.baseline_date
            and changes.key = known_keys.key
    where changes.change_date is null
),
sequenced as (
    select
        *,
        lag(row_hash) over by_key as previous_row_hash,
        lag(is_deleted) over by_key as was_deleted_before
    from (
        select dump_table, change_date, key, attributes, row_hash, is_deleted
        from plain.changes
        union all
        select * from missing_from_baseline
    )
    window by_key as (partition by dump_table, key order by change_date)
),
version_boundaries as (
    select *
    from sequenced
    where
        case
            when is_deleted then not coalesce(was_deleted_before, true)
            else
                coalesce(was_deleted_before, true)
                or previous_row_hash is null
                or previous_row_hash != row_hash
        end
)
select
    dump_table,
    key,
    attributes,
    is_deleted,
    change_date as valid_from,
    lead(change_date) over (partition by dump_table, key order by change_date) as valid_to
from version_boundaries;

create or replace table plain.dim_users as
select
    key ->> 'user_id' as user_id,
    cast(attributes ->> 'signup_date' as date) as signup_date,
    attributes ->> 'region' as region,
    attributes ->> 'occupation_preference' as occupation_preference,
    cast(attributes ->> 'is_active' as boolean) as is_active,
    cast(attributes ->> 'updated_at' as timestamp) as updated_at,
    valid_from, valid_to, valid_to is null as is_current
from versions
where dump_table = 'users' and not is_deleted;

create or replace table plain.dim_companies as
select
    key ->> 'company_id' as company_id,
    attributes ->> 'company_name' as company_name,
    attributes ->> 'industry' as industry,
    attributes ->> 'employee_band' as employee_band,
    cast(attributes ->> 'updated_at' as timestamp) as updated_at,
    valid_from, valid_to, valid_to is null as is_current
from versions
where dump_table = 'companies' and not is_deleted;

create or replace table plain.dim_jobs as
select
    key ->> 'job_id' as job_id,
    attributes ->> 'company_id' as company_id,
    attributes ->> 'title' as title,
    attributes ->> 'occupation' as occupation,
    cast(attributes ->> 'salary_min' as bigint) as salary_min,
    cast(attributes ->> 'salary_max' as bigint) as salary_max,
    cast(attributes ->> 'is_open' as boolean) as is_open,
    cast(attributes ->> 'posted_date' as date) as posted_date,
    cast(attributes ->> 'updated_at' as timestamp) as updated_at,
    valid_from, valid_to, valid_to is null as is_current
from versions
where dump_table = 'jobs' and not is_deleted;

create or replace table plain.dim_ab_patterns as
select
    key ->> 'ab_test_id' as ab_test_id,
    key ->> 'pattern_id' as pattern_id,
    attributes ->> 'description' as description,
    cast(attributes ->> 'is_active' as boolean) as is_active,
    cast(attributes ->> 'started_date' as date) as started_date,
    valid_from, valid_to, valid_to is null as is_current
from versions
where dump_table = 'ab_patterns' and not is_deleted;

drop table versions;

-- fct_applications, status dates [D, D+1]: a new application, or a status differing from the
-- day before.
delete from plain.fct_applications where status_date between $day and $day + 1;

insert into plain.fct_applications
select
    application_id, user_id, job_id, status, previous_status, status_date, applied_date,
    date_diff('day', applied_date::timestamp, status_date::timestamp)
from (
    select
        key ->> 'application_id' as application_id,
        attributes ->> 'user_id' as user_id,
        attributes ->> 'job_id' as job_id,
        attributes ->> 'status' as status,
        previous_attributes ->> 'status' as previous_status,
        change_date as status_date,
        cast(cast(attributes ->> 'applied_at' as timestamp) as date) as applied_date
    from plain.changes
    where
        dump_table = 'applications'
        and change_date between $day and $day + 1
        and not is_deleted
)
where status is not null and (previous_status is null or status != previous_status);
