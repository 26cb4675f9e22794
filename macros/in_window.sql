{#-
    Predicate for import CTEs: `<column> between <first> and <last>`. Without `upstream`, the
    rows this model writes (window_bounds(), and window_floor() of a lake_day_column); with `upstream`, the dates it reads of that
    model or source, as the model declares once in meta.reads (read_bounds()), the same
    declaration the pipeline's blocking follows. Renders all_dates(column) (`true`) only when
    no run window is given (no var run_start) and the model is not built incrementally: an
    analytics engineer's first build or full refresh builds everything; a run of the pipeline
    always builds its window, first build included.
-#}
{% macro in_window(column, upstream=none) %}
    {%- if not is_incremental() and run_date_var('run_start') is none -%}
        {{ all_dates(column) }}
    {%- else -%}
        {%- set first, last = read_bounds(upstream) if upstream else window_bounds() -%}
        {{ date_between(column, first, last) }}{{ window_floor() if not upstream else '' }}
    {%- endif -%}
{% endmacro %}
