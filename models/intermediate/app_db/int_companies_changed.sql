{{
    config(
        event_time='change_date',
        partition_by=date_partition('change_date'),
        cluster_by=['company_id'],
        meta={
            'window': {'lag_days': 0, 'lead_days': 1},
            'reads': {'stg_app_db__companies': {'lag_days': 1, 'lead_days': 0}},
        },
    )
}}

{{
    snapshot_changes(
        staging_model=ref('stg_app_db__companies'),
        key=['company_id'],
        columns=['company_name', 'industry', 'employee_band', 'updated_at'],
    )
}}
