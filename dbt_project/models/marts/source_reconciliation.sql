{#
  The warehouse's growth of the retail sales index against the growth Bank Indonesia publishes
  (Tabel 2 and 3 by category, 6 and 7 by city; each national total line too), month by month.
  Judged at the publisher's precision: BI states growth to one decimal in its releases
  ("-16,9% (yoy)"), so a computed and a published figure are consistent when they are equal
  rounded to one decimal, or differ by no more than the warehouse's own rounding of its growth
  (half a unit of its 4 decimals: 0.04996 published, 0.0500 computed). A month whose base
  the workbook does not hold (2012's year on year growth rests on 2011) is not_computable, not
  inconsistent.
#}

{% set decimals = 1 %}

with

computed as (select * from {{ ref('retail_sales') }}),

by_category as (select *, case measure when 'YOY' then 'Tabel 2' else 'Tabel 3' end as published_in from {{ ref('stg_bi__retail_sales_growth') }}),

by_city as (select *, case measure when 'YOY' then 'Tabel 6' else 'Tabel 7' end as published_in from {{ ref('stg_bi__retail_sales_growth_city') }}),

published as (

    select * from by_category
    union all
    select * from by_city

),

compared as (

    select
        'RETAIL_SALES_GROWTH_' || published.measure as indicator_code,
        published.ref_area,
        published.breakdown,
        substr(published.period_month::string, 1, 7) as time_period,
        published.published_in,
        case published.measure when 'YOY' then computed.growth_yoy_pct else computed.growth_mom_pct end as computed_value,
        published.growth_pct as published_value,
        {{ decimals }} as decimals
    from published
    left join computed
        on computed.ref_area = published.ref_area
        and computed.breakdown = published.breakdown
        and computed.period_month = published.period_month

)

select
    indicator_code,
    ref_area,
    breakdown,
    time_period,
    indicator_code || ' ' || ref_area || '/' || breakdown || '/' || time_period || ' (' || published_in || ')' as reconciliation_key,
    published_in,
    computed_value,
    published_value,
    computed_value - published_value as difference,
    decimals,
    case when published_value is null then 'not_published'
         when computed_value is null then 'not_computable'
         when {{ round_half_away('computed_value', decimals) }} = {{ round_half_away('published_value', decimals) }}
              or abs(computed_value - published_value) <= 0.00005 then 'consistent'
         else 'inconsistent' end as verdict
from compared
