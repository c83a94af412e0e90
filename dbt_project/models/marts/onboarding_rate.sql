with

cumulative as (select * from {{ ref('int_onboarding__cumulative_by_level') }}),

population as (select * from {{ ref('int_population__by_level') }}),

-- That year's population, else the latest earlier year's.
with_population as (

    select
        cumulative.*,
        population.year as population_year,
        population.enterprises as population
    from cumulative
    asof left join population
        on population.ref_area = cumulative.ref_area
        and population.size_class = cumulative.size_class
        and year(cumulative.onboarded_month) >= population.year

),

rated as (

    select
        *,
        {{ pct_ratio('cumulative_onboarded', 'population') }} as onboarding_rate_pct,
        {{ obs_status('cumulative_onboarded', 'population') }} as ratio_status
    from with_population

),

-- A rate of an area whose territory changed in the month is a break in series.
flagged as (

    select
        * exclude (ratio_status),
        case when ratio_status = 'A' and {{ territory_changed_in('rated.ref_area', 'rated.onboarded_month', 'month') }} then 'B'
             else ratio_status end as onboarding_rate_status
    from rated

)

select * from flagged
