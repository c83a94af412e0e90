{#
  The long table BI tools and statisticians read, in SDMX shape: one row per indicator,
  reference area, size class, breakdown and period.
#}

with

sales_growth as (select * from {{ ref('sales_growth') }}),

online_sales_monthly as (select * from {{ ref('online_sales_monthly') }}),

onboarding_rate as (select * from {{ ref('onboarding_rate') }}),

population as (select * from {{ ref('int_population__by_level') }}),

training_uptake as (select * from {{ ref('training_uptake') }}),

sales_totals as (

    select 'ONLINE_SALES' as indicator_code, ref_area, size_class, '_T' as breakdown,
           strftime(sale_month, '%Y-%m') as time_period, gross_sales_idr::double as obs_value,
           'IDR' as unit_measure, 'A' as obs_status
    from sales_growth

),

sales_by_platform as (

    select 'ONLINE_SALES', 'ID', '_T', platform, strftime(sale_month, '%Y-%m'),
           sum(gross_sales_idr)::double, 'IDR', 'A'
    from online_sales_monthly
    group by platform, sale_month

),

{% set growth_measures = {
    'ONLINE_SALES_GROWTH_MOM': 'growth_mom',
    'ONLINE_SALES_GROWTH_YOY': 'growth_yoy',
    'ONLINE_SALES_GROWTH_YTD': 'growth_ytd',
    'ONLINE_SALES_GROWTH_VS_BASE': 'growth_vs_base',
} %}

sales_growth_long as (

    {% for code, measure in growth_measures.items() %}
    select '{{ code }}', ref_area, size_class, '_T', strftime(sale_month, '%Y-%m'),
           {{ measure }}_pct, 'PCT', {{ measure }}_status
    from sales_growth
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

umkm_population as (

    select 'UMKM_POPULATION', ref_area, size_class, '_T', year::varchar,
           enterprises::double, 'NUMBER', 'A'
    from population

),

onboarding as (

    select 'ONBOARDED_CUMULATIVE', ref_area, size_class, '_T', strftime(onboarded_month, '%Y-%m'),
           cumulative_onboarded::double, 'NUMBER', 'A'
    from onboarding_rate
    union all
    select 'ONBOARDING_RATE', ref_area, size_class, '_T', strftime(onboarded_month, '%Y-%m'),
           onboarding_rate_pct, 'PCT', onboarding_rate_status
    from onboarding_rate

),

training as (

    select 'TRAINING_REGISTRATIONS', 'ID', '_T', program_id, year(start_date)::varchar,
           registrations::double, 'NUMBER', 'A'
    from training_uptake
    union all
    select 'TRAINING_CAPACITY', 'ID', '_T', program_id, year(start_date)::varchar,
           capacity::double, 'NUMBER', 'A'
    from training_uptake
    union all
    select 'TRAINING_OVERSUBSCRIPTION', 'ID', '_T', program_id, year(start_date)::varchar,
           oversubscription_pct, 'PCT', 'A'
    from training_uptake
    union all
    select 'TRAINING_COMPLETION_RATE', 'ID', '_T', program_id, year(start_date)::varchar,
           completion_rate_pct, 'PCT', completion_rate_status
    from training_uptake

),

unioned as (

    select * from sales_totals
    union all select * from sales_by_platform
    union all select * from sales_growth_long
    union all select * from umkm_population
    union all select * from onboarding
    union all select * from training

)

select * from unioned
order by indicator_code, ref_area, size_class, breakdown, time_period
