{{
    config(
        event_time='change_date',
        partition_by=date_partition('change_date'),
        cluster_by=['user_id'],
        meta={
            'window': {'lag_days': 0, 'lead_days': 1},
            'reads': {'stg_app_db__users': {'lag_days': 1, 'lead_days': 0}},
        },
    )
}}

{{
    snapshot_changes(
        staging_model=ref('stg_app_db__users'),
        key=['user_id'],
        columns=['signup_date', 'region', 'occupation_preference', 'is_active', 'updated_at'],
    )
}}
