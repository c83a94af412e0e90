{#
  Percentages are rounded to 4 decimals. A ratio whose base is missing or zero has no value:
  SDMX CL_OBS_STATUS `L` (missing: data exist but were not collected, e.g. a base before the
  feed begins) or `M` (missing: cannot exist, a zero base), never a division error or infinity.
#}
{% macro pct_change(current, base) -%}
    case when {{ base }} is null or {{ base }} = 0 or {{ current }} is null then null
         else round(({{ current }}::double / {{ base }}::double - 1) * 100, 4) end
{%- endmacro %}

{% macro pct_ratio(part, whole) -%}
    case when {{ whole }} is null or {{ whole }} = 0 or {{ part }} is null then null
         else round({{ part }}::double / {{ whole }}::double * 100, 4) end
{%- endmacro %}

{% macro obs_status(current, base) -%}
    case when {{ base }} is null or {{ current }} is null then 'L'
         when {{ base }} = 0 then 'M'
         else 'A' end
{%- endmacro %}

{# First day of the month for a 'YYYY-MM' string. #}
{% macro month_start(yyyy_mm) -%}
    strptime({{ yyyy_mm }} || '-01', '%Y-%m-%d')::date
{%- endmacro %}

{# Every month from the first to the last in a column: gaps become rows, so LAG-free comparisons hold. #}
{% macro month_spine(relation, column) -%}
    select unnest(generate_series(min({{ column }}), max({{ column }}), interval 1 month))::date as {{ column }}
    from {{ relation }}
{%- endmacro %}

{# SDMX-style level of an aggregate, from its area and size-class codes. #}
{% macro aggregation_level(ref_area, size_class) -%}
    case when {{ ref_area }} = 'ID' and {{ size_class }} = '_T' then 'national'
         when {{ size_class }} = '_T' then 'province'
         when {{ ref_area }} = 'ID' then 'size_class'
         else 'province_size_class' end
{%- endmacro %}
