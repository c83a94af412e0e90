with

daily as (

    select
        sale_month,
        province_code as grouped_province,
        size_class as grouped_size_class,
        platform || '/' || merchant_id as merchant,
        orders,
        gross_sales_idr
    from {{ ref('stg_sales__daily_sales') }}

),

monthly as (

    select
        sale_month,
        {{ level_columns() }},
        sum(gross_sales_idr) as gross_sales_idr,
        sum(orders) as orders,
        count(distinct merchant) as active_merchants
    from daily
    {{ group_by_levels('sale_month', ['national', 'province', 'size_class']) }}

),

spine as ({{ level_month_spine('monthly', 'sale_month') }}),

filled as (

    select
        spine.sale_month,
        spine.ref_area,
        spine.size_class,
        {{ aggregation_level('spine.ref_area', 'spine.size_class') }} as aggregation_level,
        coalesce(monthly.gross_sales_idr, 0) as gross_sales_idr,
        coalesce(monthly.orders, 0) as orders,
        coalesce(monthly.active_merchants, 0) as active_merchants
    from spine
    left join monthly using (sale_month, ref_area, size_class)

)

select * from filled
