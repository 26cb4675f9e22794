{{ config(materialized='table', cluster_by=['company_id']) }}

{{
    scd2_from_changes(
        changes_model=ref('int_companies_changed'),
        key=['company_id'],
        columns=['company_name', 'industry', 'employee_band', 'updated_at'],
    )
}}
