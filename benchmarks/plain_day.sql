-- The plain-SQL limit of one Sluice lake day: the events path (land, type, deduplicate,
-- rebuild event dates [D-3, D], then the event marts of those dates) as one DuckDB script,
-- with no orchestration, no JSON payload column, no gates and no ledger. plain_dumps.sql and
-- plain_wide.sql follow it in the same transaction (benchmarks/plain_sql.py runs the three).
-- Parameters: $day (the lake day, a date) and $files (its event files).

create schema if not exists plain;

create table if not exists plain.events (
    landed_date date,
    source_file varchar,
    record bigint,
    event_id varchar,
    event_type varchar,
    event_at timestamp,
    event_date date,
    user_id varchar,
    session_id varchar,
    platform varchar,
    job_id varchar,
    algorithm varchar,
    slot bigint,
    ab_test_id varchar,
    pattern_id varchar,
    app_version varchar
);

create table if not exists plain.fct_events as
select * exclude (landed_date, source_file, record)
from plain.events limit 0;

create table if not exists plain.daily_kpis (
    event_date date, platform varchar, active_users bigint, searches bigint,
    impressions bigint, clicks bigint, applies bigint, ctr numeric(28, 6),
    apply_rate numeric(28, 6)
);

create table if not exists plain.recommendation_performance (
    event_date date, algorithm varchar, slot bigint, impressions bigint, clicks bigint,
    applies bigint, ctr numeric(28, 6), apply_rate numeric(28, 6)
);

create table if not exists plain.ab_pattern_results (
    event_date date, ab_test_id varchar, pattern_id varchar, exposed_users bigint,
    converted_users bigint, conversion_rate numeric(28, 6), conversion_rate_low numeric(28, 6),
    conversion_rate_high numeric(28, 6)
);

delete from plain.events where landed_date = $day;

-- Landing: the lines that pass the same checks as flows/warehouse/duckdb_landing.py (the rest
-- is quarantine).
insert into plain.events
with lines as (
    -- the records' order in their files (read in order): the first copy of an event wins
    select *, row_number() over () as record
    from read_json(
        $files, format = 'newline_delimited', ignore_errors = true, filename = true,
        columns = {
            event_id: 'JSON', event_type: 'JSON', event_time: 'JSON', user_id: 'JSON',
            session_id: 'JSON', platform: 'JSON', job_id: 'JSON', algorithm: 'JSON',
            slot: 'JSON', ab_test_id: 'JSON', pattern_id: 'JSON', app_version: 'JSON'
        }
    )
),
texts as (
    select
        filename, record,
        event_id ->> '$' as event_id, json_type(event_id) as event_id_type,
        event_type ->> '$' as event_type, json_type(event_type) as event_type_type,
        event_time ->> '$' as event_time, json_type(event_time) as event_time_type,
        user_id ->> '$' as user_id, json_type(user_id) as user_id_type,
        session_id ->> '$' as session_id, json_type(session_id) as session_id_type,
        platform ->> '$' as platform, json_type(platform) as platform_type,
        job_id ->> '$' as job_id, json_type(job_id) as job_id_type,
        algorithm ->> '$' as algorithm, json_type(algorithm) as algorithm_type,
        slot ->> '$' as slot,
        ab_test_id ->> '$' as ab_test_id, json_type(ab_test_id) as ab_test_id_type,
        pattern_id ->> '$' as pattern_id, json_type(pattern_id) as pattern_id_type,
        app_version ->> '$' as app_version, json_type(app_version) as app_version_type
    from lines
),
typed as (
    select
        *,
        case
            when regexp_matches(event_time, '(Z|[+-]\d{2}:?\d{2})$')
                then cast(try_cast(event_time as timestamptz) at time zone 'UTC' as timestamp)
            else try_cast(event_time as timestamp)
        end as event_at
    from texts
    where
        event_id is not null and event_type is not null and event_time is not null
        and user_id is not null and session_id is not null and platform is not null
        and (job_id is not null or event_type not in ('impression', 'click', 'apply'))
        and (algorithm is not null or event_type not in ('impression', 'click'))
        and (slot is not null or event_type not in ('impression', 'click'))
        and (ab_test_id is not null or event_type <> 'ab_exposure')
        and (pattern_id is not null or event_type <> 'ab_exposure')
        and event_id_type = 'VARCHAR' and event_type_type = 'VARCHAR'
        and event_time_type = 'VARCHAR' and try_cast(event_time as timestamptz) is not null
        and user_id_type = 'VARCHAR' and session_id_type = 'VARCHAR'
        and platform_type = 'VARCHAR'
        and (job_id is null or job_id_type = 'VARCHAR')
        and (algorithm is null or algorithm_type = 'VARCHAR')
        and (slot is null or try_cast(slot as bigint) is not null)
        and (ab_test_id is null or ab_test_id_type = 'VARCHAR')
        and (pattern_id is null or pattern_id_type = 'VARCHAR')
        and (app_version is null or app_version_type = 'VARCHAR')
        and event_type in ('search', 'impression', 'click', 'apply', 'ab_exposure')
        and platform in ('ios', 'android', 'web')
)
select
    $day, filename, record, event_id, event_type, event_at, cast(event_at as date), user_id,
    session_id, platform, job_id, algorithm, try_cast(slot as bigint), ab_test_id, pattern_id,
    app_version
from typed
where
    cast(timezone('UTC', try_cast(event_time as timestamptz)) as date)
    between $day - 3 and $day;

-- DWH: the first copy of each event, for event dates [D-3, D], from lake days [D-3, D+3].
delete from plain.fct_events where event_date between $day - 3 and $day;

insert into plain.fct_events
select * exclude (landed_date, source_file, record, copy_number)
from (
    select
        *,
        row_number() over (
            partition by event_id order by landed_date, source_file, record
        ) as copy_number
    from plain.events
    where
        landed_date between $day - 3 and $day + 3
        and event_date between landed_date - 3 and landed_date
)
where copy_number = 1 and event_date between $day - 3 and $day;

-- Marts of event dates [D-3, D].
delete from plain.daily_kpis where event_date between $day - 3 and $day;

insert into plain.daily_kpis
select
    event_date,
    platform,
    count(distinct user_id),
    count(*) filter (where event_type = 'search'),
    count(*) filter (where event_type = 'impression'),
    count(*) filter (where event_type = 'click'),
    count(*) filter (where event_type = 'apply'),
    round(
        1.0 * count(*) filter (where event_type = 'click')
        / nullif(count(*) filter (where event_type = 'impression'), 0), 6
    ),
    round(
        1.0 * count(*) filter (where event_type = 'apply')
        / nullif(count(*) filter (where event_type = 'click'), 0), 6
    )
from plain.fct_events
where event_date between $day - 3 and $day
group by event_date, platform;

delete from plain.recommendation_performance where event_date between $day - 3 and $day;

insert into plain.recommendation_performance
select
    event_date,
    algorithm,
    slot,
    count(*) filter (where event_type = 'impression'),
    count(*) filter (where event_type = 'click'),
    count(*) filter (where event_type = 'apply'),
    round(
        1.0 * count(*) filter (where event_type = 'click')
        / nullif(count(*) filter (where event_type = 'impression'), 0), 6
    ),
    round(
        1.0 * count(*) filter (where event_type = 'apply')
        / nullif(count(*) filter (where event_type = 'click'), 0), 6
    )
from plain.fct_events
where
    event_date between $day - 3 and $day
    and event_type in ('impression', 'click', 'apply')
    and algorithm is not null
    and slot is not null
group by event_date, algorithm, slot;

delete from plain.ab_pattern_results where event_date between $day - 3 and $day;

insert into plain.ab_pattern_results
with exposed as (
    select distinct event_date, ab_test_id, pattern_id, user_id
    from plain.fct_events
    where event_date between $day - 3 and $day and event_type = 'ab_exposure'
),
applying as (
    select distinct event_date, user_id
    from plain.fct_events
    where event_date between $day - 3 and $day and event_type = 'apply'
),
counts as (
    select
        exposed.event_date,
        exposed.ab_test_id,
        exposed.pattern_id,
        count(*) as n,
        count(applying.user_id) as k
    from exposed
    left join applying
        on exposed.event_date = applying.event_date and exposed.user_id = applying.user_id
    group by exposed.event_date, exposed.ab_test_id, exposed.pattern_id
),
wilson as (
    select
        *,
        1.0 * k / n as p,
        (1.0 * k / n + 3.8416 / (2.0 * n)) / (1.0 + 3.8416 / n) as center,
        1.96 * sqrt((1.0 * k / n) * (1.0 - 1.0 * k / n) / n + 3.8416 / (4.0 * n * n))
        / (1.0 + 3.8416 / n) as margin
    from counts
)
select
    event_date,
    ab_test_id,
    pattern_id,
    n,
    k,
    round(p, 6),
    round(greatest(center - margin, 0.0), 6),
    round(least(center + margin, 1.0), 6)
from wilson;
