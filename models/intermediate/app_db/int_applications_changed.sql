{{
    config(
        event_time='change_date',
        partition_by=date_partition('change_date'),
        cluster_by=['application_id'],
        meta={
            'window': {'lag_days': 0, 'lead_days': 1},
            'reads': {'stg_app_db__applications': {'lag_days': 1, 'lead_days': 0}},
        },
    )
}}

{{
    snapshot_changes(
        staging_model=ref('stg_app_db__applications'),
        key=['application_id'],
        columns=['user_id', 'job_id', 'applied_at', 'status', 'status_updated_at'],
        previous_columns=['status'],
    )
}}
