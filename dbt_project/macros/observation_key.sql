{#
  An observation's key, the columns of var('observation_key') (dbt_project.yml), comma-separated,
  then `extra` (a list of columns): for partitions and orders over observations.
#}
{% macro observation_key(extra=[]) -%}
    {{ (var('observation_key') + extra) | join(', ') }}
{%- endmacro %}
