{{ config(materialized='table', cluster_by=['ab_test_id', 'pattern_id']) }}

{{
    scd2_from_changes(
        changes_model=ref('int_ab_patterns_changed'),
        key=['ab_test_id', 'pattern_id'],
        columns=['description', 'is_active', 'started_date'],
    )
}}
