{#- An ISO date string moved by `days` (may be negative); computed in Jinja, so no SQL dialect is involved. -#}
{% macro shift_iso_date(iso_date, days) %}
    {%- set parsed = modules.datetime.datetime.strptime(iso_date, '%Y-%m-%d').date() -%}
    {{ return((parsed + modules.datetime.timedelta(days=days | int)).isoformat()) }}
{% endmacro %}
