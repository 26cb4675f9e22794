{{ config(materialized='table', cluster_by=['user_id']) }}

{{
    scd2_from_changes(
        changes_model=ref('int_users_changed'),
        key=['user_id'],
        columns=['signup_date', 'region', 'occupation_preference', 'is_active', 'updated_at'],
    )
}}
