{#-
    Predicate on a row the model reads: its lake day (meta.window.lake_day_column) comes before
    the run's first lake day, so an earlier run decided that row's event, and window_floor()
    keeps the model from writing it again. `false` when the model declares no lake_day_column,
    or where in_window() builds every date (no run window and not built incrementally): then
    no earlier run decided anything.
-#}
{% macro before_window_floor() %}
    {%- set column = window_meta().get('lake_day_column') -%}
    {%- if not column or (not is_incremental() and run_date_var('run_start') is none) -%}
        {{ return('false') }}
    {%- endif -%}
    {{ return(column ~ " < cast('" ~ run_dates()[0] ~ "' as date)") }}
{% endmacro %}
