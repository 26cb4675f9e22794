{{ config(materialized='table', cluster_by=['job_id']) }}

{{
    scd2_from_changes(
        changes_model=ref('int_jobs_changed'),
        key=['job_id'],
        columns=[
            'company_id', 'title', 'occupation', 'salary_min', 'salary_max', 'is_open', 'posted_date',
            'updated_at',
        ],
    )
}}
