{{
    config(
        event_time='change_date',
        partition_by=date_partition('change_date'),
        cluster_by=['job_id'],
        meta={
            'window': {'lag_days': 0, 'lead_days': 1},
            'reads': {'stg_app_db__jobs': {'lag_days': 1, 'lead_days': 0}},
        },
    )
}}

{{
    snapshot_changes(
        staging_model=ref('stg_app_db__jobs'),
        key=['job_id'],
        columns=[
            'company_id', 'title', 'occupation', 'salary_min', 'salary_max', 'is_open', 'posted_date',
            'updated_at',
        ],
    )
}}
