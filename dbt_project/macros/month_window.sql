{#
  The months a partitioned run builds: vars month_from / month_to (first days of the first and
  last month, passed by the Dagster step from the partition's time window). An incremental model
  reads only those months of its input and replaces only those months of itself; a full build
  (first run, or --full-refresh) reads everything.
#}
{% macro in_month_window(column) -%}
    {%- if is_incremental() -%}
        {{ column }} between '{{ var("month_from") }}'::date and '{{ var("month_to") }}'::date
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
