{#-
    Predicate for import CTEs: `<column> between <window start - lag> and <window end + lead>`,
    the model's window_bounds() widened by the days it reads beyond what it writes.
    Renders all_dates(column) (`true`) when the model is not built incrementally (first build,
    full refresh).
-#}
{% macro in_window(column, lag=0, lead=0) %}
    {%- if not is_incremental() -%}
        {{ all_dates(column) }}
    {%- else -%}
        {%- set window_start, window_end = window_bounds() -%}
        {{ date_between(column, shift_iso_date(window_start, -(lag | int)), shift_iso_date(window_end, lead | int)) }}
    {%- endif -%}
{% endmacro %}
