{% set base_month = "'" ~ var('base_period') ~ "-01'::date" %}

with

sparse as (select * from {{ ref('int_sales__monthly_by_level') }}),

inputs as (select * from {{ ref('int_landing__sales_inputs') }}),

-- A month is complete when every platform expected in it has landed its file.
sales_months as (

    select
        input_month as sale_month,
        coalesce(bool_and(has_landed) filter (where is_expected), true) as is_complete
    from inputs
    group by input_month

),

spine as ({{ level_month_spine('sales_months', 'sparse') }}),

-- In a complete month a series without sales is a real zero; in an incomplete one every series
-- is missing (NULL, status L), never a lower figure.
monthly as (

    select
        spine.sale_month,
        spine.ref_area,
        spine.size_class,
        {{ aggregation_level('spine.ref_area', 'spine.size_class') }} as aggregation_level,
        case when spine.is_complete then coalesce(sparse.gross_sales_idr, 0) end as gross_sales_idr
    from spine
    left join sparse using (sale_month, ref_area, size_class)

),

-- Sales are a flow: year to date is their sum from January (BPS c-to-c). The sum is known only
-- when every one of those months is in the spine and collected (count() skips NULL sales).
year_to_date as (

    select
        *,
        case when count(gross_sales_idr) over year_so_far = month(sale_month)
            then sum(gross_sales_idr) over year_so_far end as sales_year_to_date
    from monthly
    window year_so_far as (
        partition by ref_area, size_class, year(sale_month)
        order by sale_month
        rows between unbounded preceding and current row
    )

),

-- The previous month and year come from year_to_date too (the same monthly sales, with the
-- sums year to date the c-to-c growth compares).
compared as (

    select
        current_month.sale_month,
        current_month.ref_area,
        current_month.size_class,
        current_month.aggregation_level,
        current_month.gross_sales_idr,
        {{ level_status('current_month.ref_area', 'current_month.sale_month', 'month', 'current_month.gross_sales_idr') }} as sales_status,
        previous_month.gross_sales_idr as sales_previous_month,
        previous_year.gross_sales_idr as sales_same_month_previous_year,
        current_month.sales_year_to_date,
        previous_year.sales_year_to_date as sales_year_to_date_previous_year,
        base_period.gross_sales_idr as sales_base_period,
        {{ monthly_growth('current_month.ref_area', 'gross_sales_idr', 'sale_month') }}
    from {{ months_compared('year_to_date', ['ref_area', 'size_class'], 'sale_month') }}
    left join monthly as base_period
        on base_period.ref_area = current_month.ref_area
        and base_period.size_class = current_month.size_class
        and base_period.sale_month = {{ base_month }}

),

growth as (

    select
        *,
        -- Year to date compares January..month of the year with the same months a year before.
        {{ growth_rate('growth_ytd', 'compared.ref_area', 'sales_year_to_date', 'sales_year_to_date_previous_year',
                       'compared.sale_month', "make_date(year(compared.sale_month) - 1, 1, 1)") }},
        {{ growth_rate('growth_vs_base', 'compared.ref_area', 'gross_sales_idr', 'sales_base_period',
                       'compared.sale_month', base_month) }}
    from compared

)

select * from growth
