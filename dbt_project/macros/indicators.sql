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

{#
  Every row of `months` (a relation with one row per month) for every
  (ref_area, size_class) series of `series`: a month without data becomes a row, so comparisons
  across months hold. The months are the feed's expected months (int_landing__expected_inputs).
#}
{% macro level_month_spine(months, series) -%}
    select months.*, series.ref_area, series.size_class
    from {{ months }} as months
    cross join (select distinct ref_area, size_class from {{ series }}) as series
{%- endmacro %}

{# SDMX-style level of an aggregate, from its area and size-class codes. #}
{% macro aggregation_level(ref_area, size_class) -%}
    case when {{ ref_area }} = 'ID' and {{ size_class }} = '_T' then 'national'
         when {{ size_class }} = '_T' then 'province'
         when {{ ref_area }} = 'ID' then 'size_class'
         else 'province_size_class' end
{%- endmacro %}

{#
  Aggregation levels of a (period, province, size class) fact: the columns naming the level
  (`ID` / `_T` for totals) and the GROUPING SETS producing them. Inputs name their dimensions
  grouped_province and grouped_size_class.
#}
{% macro level_columns() -%}
    coalesce(grouped_province, 'ID') as ref_area,
    coalesce(grouped_size_class, '_T') as size_class
{%- endmacro %}

{% macro group_by_levels(period, levels) -%}
    {%- set dims = {
        'national': [],
        'province': ['grouped_province'],
        'size_class': ['grouped_size_class'],
        'province_size_class': ['grouped_province', 'grouped_size_class'],
    } -%}
    group by grouping sets (
        {%- for level in levels %}
        ({{ ([period] + dims[level]) | join(', ') }}){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{# The label of a code from marts.code_labels (the CTE `code_labels`), joined as `alias`. #}
{% macro join_code_label(alias, code_list, code) -%}
    left join code_labels as {{ alias }} on {{ alias }}.code_list = '{{ code_list }}' and {{ alias }}.code = {{ code }}
{%- endmacro %}
