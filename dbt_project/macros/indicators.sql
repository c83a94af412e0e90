{#
  Percentages are rounded to 4 decimals. A ratio whose base is missing or zero has no value:
  SDMX CL_OBS_STATUS `L` (missing: data exist but were not collected, e.g. a base before the
  feed begins) or `M` (missing: cannot exist, a zero base), never a division error or infinity.
#}
{% macro pct_change(current, base) -%}
    case when {{ base }} is null or {{ base }} = 0 or {{ current }} is null then null
         else {{ round_half_away('(' ~ current ~ '::double / ' ~ base ~ '::double - 1) * 100', 4) }} end
{%- endmacro %}

{% macro pct_ratio(part, whole) -%}
    case when {{ whole }} is null or {{ whole }} = 0 or {{ part }} is null then null
         else {{ round_half_away(part ~ '::double / ' ~ whole ~ '::double * 100', 4) }} end
{%- endmacro %}

{% macro obs_status(current, base) -%}
    case when {{ base }} is null or {{ current }} is null then 'L'
         when {{ base }} = 0 then 'M'
         else 'A' end
{%- endmacro %}

{# First day of the month for a 'YYYY-MM' string (ingest held it to the pattern). #}
{% macro month_start(yyyy_mm) -%}
    ({{ yyyy_mm }} || '-01')::date
{%- endmacro %}

{#
  Every row of `months` (a relation with one row per month) for every
  (ref_area, size_class) series of `series`: a month without data becomes a row, so comparisons
  across months hold. The months are the feed's expected months (int_landing__<feed>_inputs).
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


{#
  Territory changes (int_reference__territory_changes). A level observation of an area in the
  period (month or year, from `period_start`) in which its territory changed is a break in
  series, `B`; a comparison of two periods with a change between them (after the earlier one's
  start, up to the later one's) has no comparable base: NULL with status `M`. Qualify the
  arguments with their relation: the lookup has a `ref_area` of its own.
#}
{% macro territory_changed(area, when) -%}
    exists (
        select 1 from {{ ref('int_reference__territory_changes') }} as changes
        where changes.ref_area = {{ area }} and {{ when }}
    )
{%- endmacro %}

{% macro territory_changed_in(area, period_start, grain) -%}
    {{ territory_changed(area, "date_trunc('" ~ grain ~ "', changes.changed_on) = " ~ period_start) }}
{%- endmacro %}

{% macro level_status(area, period_start, grain, value) -%}
    case when {{ value }} is null then 'L'
         when {{ territory_changed_in(area, period_start, grain) }} then 'B'
         else 'A' end
{%- endmacro %}

{#
  A growth rate `name`_pct and its status `name`_status. With the statuses of the two values
  compared (`current_status`, `base_status`: a published series'), a rate that could be computed
  from a provisional value (`P`) is provisional too.
#}
{% macro growth_rate(name, area, current, base, current_start, base_start, current_status=none, base_status=none) -%}
    {%- set changed_between = territory_changed(area,
        "date_trunc('month', changes.changed_on) > least(" ~ current_start ~ ", " ~ base_start ~ ")"
        ~ " and date_trunc('month', changes.changed_on) <= greatest(" ~ current_start ~ ", " ~ base_start ~ ")") -%}
    case when {{ changed_between }} then null else {{ pct_change(current, base) }} end as {{ name }}_pct,
    case when {{ changed_between }} then 'M'
    {%- if current_status is not none %}
         when {{ obs_status(current, base) }} = 'A' and 'P' in ({{ current_status }}, {{ base_status }}) then 'P'
    {%- endif %}
         else {{ obs_status(current, base) }} end as {{ name }}_status
{%- endmacro %}

{#
  A monthly series (`series`: one row per `keys` and `month`, a first day) beside the same
  series one month and twelve months before (`previous_month`, `previous_year`): what month on
  month and year on year growth compare. A month the series lacks joins no row (its value NULL).
#}
{% macro months_compared(series, keys, month) -%}
    {{ series }} as current_month
    left join {{ series }} as previous_month
        on {% for key in keys %}previous_month.{{ key }} = current_month.{{ key }}
        and {% endfor %}previous_month.{{ month }} = current_month.{{ month }} - interval 1 month
    left join {{ series }} as previous_year
        on {% for key in keys %}previous_year.{{ key }} = current_month.{{ key }}
        and {% endfor %}previous_year.{{ month }} = current_month.{{ month }} - interval 12 month
{%- endmacro %}

{#
  Month on month (BPS m-to-m) and year on year (y-on-y) growth of `value` over months_compared:
  one definition for every monthly series (online sales, the retail sales index), its missing
  and zero bases, territory changes and (with `status`, a published series' status column)
  provisional values included.
#}
{% macro monthly_growth(area, value, month, status=none) -%}
    {{ growth_rate('growth_mom', area, 'current_month.' ~ value, 'previous_month.' ~ value,
                   'current_month.' ~ month, 'current_month.' ~ month ~ ' - interval 1 month',
                   none if status is none else 'current_month.' ~ status, none if status is none else 'previous_month.' ~ status) }},
    {{ growth_rate('growth_yoy', area, 'current_month.' ~ value, 'previous_year.' ~ value,
                   'current_month.' ~ month, 'current_month.' ~ month ~ ' - interval 12 month',
                   none if status is none else 'current_month.' ~ status, none if status is none else 'previous_year.' ~ status) }}
{%- endmacro %}
