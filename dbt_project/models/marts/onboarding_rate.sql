with

cumulative as (select * from {{ ref('int_onboarding__cumulative_by_level') }}),

-- Each year's population holds until the series' next year with one.
population as (

    select
        *,
        lead(year) over (partition by ref_area, size_class order by year) as next_year
    from {{ ref('int_population__by_level') }}

),

-- That year's population, else the latest earlier year's.
with_population as (

    select
        cumulative.*,
        population.year as population_year,
        population.enterprises as population
    from cumulative
    left join population
        on population.ref_area = cumulative.ref_area
        and population.size_class = cumulative.size_class
        and year(cumulative.onboarded_month) >= population.year
        and (population.next_year is null or year(cumulative.onboarded_month) < population.next_year)

),

-- A rate of an area whose territory changed in the month is a break in series.
rated as (

    select
        *,
        {{ pct_ratio('cumulative_onboarded', 'population') }} as onboarding_rate_pct,
        case when {{ obs_status('cumulative_onboarded', 'population') }} = 'A'
                and {{ territory_changed_in('with_population.ref_area', 'with_population.onboarded_month', 'month') }} then 'B'
             else {{ obs_status('cumulative_onboarded', 'population') }} end as onboarding_rate_status
    from with_population

)

select * from rated
