{#- The require_partition_filter config of a large fact: on, except on the offline emulator
    (target bq_emulator), which refuses the table option (bq_gaps.yml: require_partition_filter). -#}
{% macro require_partition_filter() %}
    {{ return(target.name != 'bq_emulator') }}
{% endmacro %}
