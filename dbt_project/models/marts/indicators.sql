{#
  The long table BI tools and statisticians read, in SDMX shape: one row per indicator,
  reference area, size class, breakdown and period. Each part gives its period as its first day;
  the SDMX time_period is written from it in the indicator's frequency.
#}

with

sales_growth as (select * from {{ ref('sales_growth') }}),

online_sales_monthly as (select * from {{ ref('online_sales_monthly') }}),

sales_inputs as (select * from {{ ref('int_landing__sales_inputs') }}),

onboarding_rate as (select * from {{ ref('onboarding_rate') }}),

population as (select * from {{ ref('int_population__by_level') }}),

gdp as (select * from {{ ref('int_gdp__by_level') }}),

training_uptake as (select * from {{ ref('training_uptake') }}),

household_internet_access as (select * from {{ ref('household_internet_access') }}),

retail_sales as (select * from {{ ref('retail_sales') }}),

catalog as (select * from {{ ref('indicator_catalog') }}),

sales_totals as (

    select 'ONLINE_SALES' as indicator_code, ref_area, size_class, '_T' as breakdown,
           sale_month as period_start, gross_sales_idr::double as obs_value,
           sales_status as obs_status
    from sales_growth

),

-- Each platform expected in a month (missing when its file has not landed), and any other
-- platform whose files loaded rows.
sales_by_platform as (

    select 'ONLINE_SALES', 'ID', '_T', sales_inputs.platform, sales_inputs.input_month,
           case when sales_inputs.has_landed then coalesce(sum(online_sales_monthly.gross_sales_idr), 0)::double end,
           case when sales_inputs.has_landed then 'A' else 'L' end
    from sales_inputs
    left join online_sales_monthly
        on online_sales_monthly.sale_month = sales_inputs.input_month
        and online_sales_monthly.platform = sales_inputs.platform
    where sales_inputs.is_expected or sales_inputs.rows_loaded > 0
    group by sales_inputs.platform, sales_inputs.input_month, sales_inputs.has_landed

),

{% set growth_measures = {
    'ONLINE_SALES_GROWTH_MOM': 'growth_mom',
    'ONLINE_SALES_GROWTH_YOY': 'growth_yoy',
    'ONLINE_SALES_GROWTH_YTD': 'growth_ytd',
    'ONLINE_SALES_GROWTH_VS_BASE': 'growth_vs_base',
} %}

sales_growth_long as (

    {% for code, measure in growth_measures.items() %}
    select '{{ code }}', ref_area, size_class, '_T', sale_month,
           {{ measure }}_pct, {{ measure }}_status
    from sales_growth
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

umkm_population as (

    select 'UMKM_POPULATION', ref_area, size_class, '_T', make_date(year, 1, 1),
           enterprises::double, {{ level_status('population.ref_area', 'make_date(population.year, 1, 1)', 'year', 'enterprises') }}
    from population

),

-- A province whose territory changed in the year mixes two territories: a break, as for levels.
umkm_gdp_share as (

    select 'UMKM_GDP_SHARE', ref_area, '_T', '_T', make_date(year, 1, 1),
           {{ pct_ratio('umkm_value_added_idr_bn', 'gdp_idr_bn') }},
           {{ level_status('gdp.ref_area', 'make_date(gdp.year, 1, 1)', 'year', pct_ratio('umkm_value_added_idr_bn', 'gdp_idr_bn')) }}
    from gdp

),

onboarding as (

    select 'ONBOARDED_CUMULATIVE', ref_area, size_class, '_T', onboarded_month,
           cumulative_onboarded::double,
           {{ level_status('onboarding_rate.ref_area', 'onboarding_rate.onboarded_month', 'month', 'cumulative_onboarded') }}
    from onboarding_rate
    union all
    select 'ONBOARDING_RATE', ref_area, size_class, '_T', onboarded_month,
           onboarding_rate_pct, onboarding_rate_status
    from onboarding_rate

),

training as (

    select 'TRAINING_REGISTRATIONS', 'ID', '_T', program_id, make_date(year(start_date), 1, 1),
           registrations::double, 'A'
    from training_uptake
    union all
    select 'TRAINING_CAPACITY', 'ID', '_T', program_id, make_date(year(start_date), 1, 1),
           capacity::double, 'A'
    from training_uptake
    union all
    select 'TRAINING_OVERSUBSCRIPTION', 'ID', '_T', program_id, make_date(year(start_date), 1, 1),
           oversubscription_pct, 'A'
    from training_uptake
    union all
    select 'TRAINING_COMPLETION_RATE', 'ID', '_T', program_id, make_date(year(start_date), 1, 1),
           completion_rate_pct, completion_rate_status
    from training_uptake

),

-- Published tables: the publisher's figures, and the growth the warehouse computes from them.
internet_access as (

    select 'HH_INTERNET_ACCESS', ref_area, '_T', urban_rural, make_date(year, 1, 1),
           households_pct, obs_status
    from household_internet_access

),

retail as (

    select 'RETAIL_SALES_INDEX', ref_area, '_T', breakdown, period_month,
           sales_index, index_status
    from retail_sales
    union all
    select 'RETAIL_SALES_GROWTH_MOM', ref_area, '_T', breakdown, period_month,
           growth_mom_pct, growth_mom_status
    from retail_sales
    union all
    select 'RETAIL_SALES_GROWTH_YOY', ref_area, '_T', breakdown, period_month,
           growth_yoy_pct, growth_yoy_status
    from retail_sales

),

unioned as (

    select * from sales_totals
    union all select * from sales_by_platform
    union all select * from sales_growth_long
    union all select * from umkm_population
    union all select * from umkm_gdp_share
    union all select * from onboarding
    union all select * from training
    union all select * from internet_access
    union all select * from retail

),

-- Frequency and unit from the catalog. A left join: an indicator missing from it gets neither and
-- fails the tests, not vanishes.
dated as (

    select
        unioned.indicator_code,
        unioned.ref_area,
        unioned.size_class,
        unioned.breakdown,
        -- YYYY-MM or YYYY: the start of the ISO date (both engines print a DATE as YYYY-MM-DD).
        case catalog.frequency
            when 'M' then substr(unioned.period_start::string, 1, 7)
            when 'A' then substr(unioned.period_start::string, 1, 4)
        end as time_period,
        unioned.period_start,
        catalog.frequency,
        unioned.obs_value,
        catalog.unit_measure,
        unioned.obs_status
    from unioned
    left join catalog using (indicator_code)

)

select * from dated
order by {{ observation_key() }}
