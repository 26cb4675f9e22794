{#- One run var as a validated ISO date string, or none when unset. -#}
{% macro run_date_var(name) %}
    {%- set value = var(name, none) -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- set match = modules.re.match('^(\\d{4})-(\\d{2})-(\\d{2})$', text) -%}
    {%- set is_valid = false -%}
    {%- if match -%}
        {%- set year = match.group(1) | int -%}
        {%- set month = match.group(2) | int -%}
        {%- set day = match.group(3) | int -%}
        {%- if year >= 1 and 1 <= month <= 12 and day >= 1 -%}
            {%- set first_of_next = modules.datetime.date(year + (month // 12), (month % 12) + 1, 1) -%}
            {%- set is_valid = day <= (first_of_next - modules.datetime.timedelta(days=1)).day -%}
        {%- endif -%}
    {%- endif -%}
    {%- if not is_valid -%}
        {{ exceptions.raise_compiler_error("var '" ~ name ~ "' must be an ISO date YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}
