{# Snapshot times in UTC whatever the machine's time zone: they are release times. #}
{% macro duckdb__snapshot_get_time() -%}
    timezone('UTC', now())
{%- endmacro %}
