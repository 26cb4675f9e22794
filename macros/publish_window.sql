{#-
    Write-audit-publish: copy each model's window of dates from one schema to another, for every
    model of a layer (default marts), in one transaction. publish: marts_audit -> marts after the
    gate passed; restore: marts -> marts_audit after it failed, so the audit copy never keeps
    rows that were refused. A target table that does not exist yet is created from the source.
-#}
{% macro publish_window(from_suffix, to_suffix, layer='marts') %}
    {{ return(adapter.dispatch('publish_window')(from_suffix, to_suffix, layer)) }}
{% endmacro %}


{% macro default__publish_window(from_suffix, to_suffix, layer) %}
    {%- set statements = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and (node.config.meta or {}).get('layer') == layer -%}
        {#- the audit manifest's schemas carry the audit suffix, whichever way the copy goes -#}
        {%- set suffix = from_suffix or to_suffix -%}
        {%- set base_schema = node.schema[:-(suffix | length)] if suffix and node.schema.endswith(suffix) else node.schema -%}
        {%- set source = api.Relation.create(database=node.database, schema=base_schema ~ from_suffix, identifier=node.alias) -%}
        {%- set target = api.Relation.create(database=node.database, schema=base_schema ~ to_suffix, identifier=node.alias) -%}
        {%- set column = node.config.event_time -%}
        {%- set existing = adapter.get_relation(database=target.database, schema=target.schema, identifier=target.identifier) -%}
        {%- set available = adapter.get_relation(database=source.database, schema=source.schema, identifier=source.identifier) -%}
        {%- set window_start, window_end = window_bounds(node.config.meta.get('window') or {}) -%}
        {%- do statements.append('create schema if not exists ' ~ target.database ~ '.' ~ target.schema) -%}
        {%- if available is none -%}
            {#- nothing published yet to restore from: drop the refused window from the copy -#}
            {%- if existing is not none and column is not none -%}
                {%- do statements.append('delete from ' ~ target ~ ' where ' ~ date_between(column, window_start, window_end)) -%}
            {%- endif -%}
        {%- elif existing is none or column is none -%}
            {%- do statements.append('create or replace table ' ~ target ~ ' as select * from ' ~ source) -%}
        {%- else -%}
            {%- do statements.append('delete from ' ~ target ~ ' where ' ~ date_between(column, window_start, window_end)) -%}
            {%- do statements.append('insert into ' ~ target ~ ' select * from ' ~ source ~ ' where ' ~ date_between(column, window_start, window_end)) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- the first statement opens the operation's transaction; all commit together -#}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {%- do run_query('commit') -%}
    {{ log('published ' ~ (statements | length) ~ ' statements from *' ~ from_suffix ~ ' to *' ~ to_suffix, info=false) }}
{% endmacro %}


{#- BigQuery: no multi-statement transaction without scripting, so each model's window is
    swapped by one MERGE (atomic per table), the partition-pruned static replace that
    replace_window uses too; a missing target is created with the source's partitioning. -#}
{% macro bigquery__publish_window(from_suffix, to_suffix, layer) %}
    {%- set suffix = from_suffix or to_suffix -%}
    {%- set count = namespace(statements=0) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and (node.config.meta or {}).get('layer') == layer -%}
        {%- set base_schema = node.schema[:-(suffix | length)] if suffix and node.schema.endswith(suffix) else node.schema -%}
        {%- set source = api.Relation.create(database=node.database, schema=base_schema ~ from_suffix, identifier=node.alias) -%}
        {%- set target = api.Relation.create(database=node.database, schema=base_schema ~ to_suffix, identifier=node.alias) -%}
        {%- set column = node.config.event_time -%}
        {%- set existing = adapter.get_relation(database=target.database, schema=target.schema, identifier=target.identifier) -%}
        {%- set available = adapter.get_relation(database=source.database, schema=source.schema, identifier=source.identifier) -%}
        {%- set window_start, window_end = window_bounds(node.config.meta.get('window') or {}) -%}
        {%- do adapter.create_schema(target) -%}
        {%- if available is none -%}
            {%- set statement = none -%}
            {%- if existing is not none and column is not none -%}
                {%- set statement -%}
                    merge {{ target }} as dest
                    using (select 1 as nothing) as src
                    on false
                    when not matched by source
                        and {{ date_between('dest.' ~ column, window_start, window_end) }}
                        then delete
                {%- endset -%}
            {%- endif -%}
        {%- elif existing is none or column is none -%}
            {%- set statement -%}
                create or replace table {{ target }}
                {%- if column is not none %} partition by {{ column }}{% endif %}
                {%- if node.config.cluster_by %} cluster by {{ (node.config.cluster_by if node.config.cluster_by is not string else [node.config.cluster_by]) | join(', ') }}{% endif %}
                as select * from {{ source }}
            {%- endset -%}
        {%- else -%}
            {%- set column_list = get_quoted_csv(adapter.get_columns_in_relation(source) | map(attribute='name')) -%}
            {%- set statement -%}
                merge {{ target }} as dest
                using (
                    select {{ column_list }} from {{ source }}
                    where {{ date_between(column, window_start, window_end) }}
                ) as src
                on false
                when not matched by source
                    and {{ date_between('dest.' ~ column, window_start, window_end) }}
                    then delete
                when not matched then insert ({{ column_list }}) values ({{ column_list }})
            {%- endset -%}
        {%- endif -%}
        {%- if statement is not none -%}
            {%- do run_query(statement) -%}
            {%- set count.statements = count.statements + 1 -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log('published ' ~ count.statements ~ ' statements from *' ~ from_suffix ~ ' to *' ~ to_suffix, info=false) }}
{% endmacro %}
