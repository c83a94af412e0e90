{#
  Bank Indonesia's real retail sales index, as published, with its growth month on month and year
  on year computed here by the same definition as online sales' (macro monthly_growth): national
  by category (Tabel 1, its INDEKS TOTAL as breakdown _T) and by city (Tabel 5, breakdown _T;
  its INDEKS TOTAL line is the national index again, read from Tabel 1). A growth from or of a
  provisional month is provisional; the 2012 year on year growth has no base here (BI's rests on
  2011 indices the workbook does not hold): NULL, status L.
#}

with

by_category as (select * from {{ ref('stg_bi__retail_sales_index') }}),

by_city as (select * from {{ ref('stg_bi__retail_sales_index_city') }} where ref_area <> 'ID'),

series as (

    select ref_area, breakdown, period_month, sales_index, obs_status from by_category
    union all
    select ref_area, breakdown, period_month, sales_index, obs_status from by_city

),

compared as (

    select
        current_month.period_month,
        current_month.ref_area,
        current_month.breakdown,
        current_month.sales_index,
        current_month.obs_status as index_status,
        {{ monthly_growth('current_month.ref_area', 'sales_index', 'period_month', status='obs_status') }}
    from {{ months_compared('series', ['ref_area', 'breakdown'], 'period_month') }}

)

select * from compared
