with

daily as (select * from {{ ref('stg_sales__daily_sales') }}),

monthly as (

    select
        sale_month,
        province_code,
        size_class,
        platform,
        sum(gross_sales_idr) as gross_sales_idr,
        sum(orders) as orders,
        count(distinct merchant_id) as active_merchants
    from daily
    group by all

)

select * from monthly
