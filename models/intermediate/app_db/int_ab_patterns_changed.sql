{{
    config(
        event_time='change_date',
        partition_by=date_partition('change_date'),
        cluster_by=['ab_test_id', 'pattern_id'],
        meta={
            'window': {'lag_days': 0, 'lead_days': 1},
            'reads': {'stg_app_db__ab_patterns': {'lag_days': 1, 'lead_days': 0}},
        },
    )
}}

{{
    snapshot_changes(
        staging_model=ref('stg_app_db__ab_patterns'),
        key=['ab_test_id', 'pattern_id'],
        columns=['description', 'is_active', 'started_date'],
    )
}}
