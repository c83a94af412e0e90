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

{#
  Tests on the monthly models check the run's months only: their `where` config says
  `__month_from__` / `__month_to__`, filled in here when the test runs. (A `var()` in a test's
  config would be fixed when the project is parsed, and the project is parsed once per process.)
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where
            | replace('__month_from__', "'" ~ var('month_from') ~ "'::date")
            | replace('__month_to__', "'" ~ var('month_to') ~ "'::date") -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
