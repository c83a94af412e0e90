{{ config(**monthly_incremental('sale_month')) }}

with

daily as (select * from {{ ref('stg_sales__daily_sales') }} where {{ in_month_window('sale_month') }}),

monthly as (

    select
        sale_month,
        province_code,
        size_class,
        platform,
        -- Typed alike on both engines: DuckDB sums into DECIMAL(38, s) and HUGEINT, Spark into DECIMAL(28, s) and BIGINT.
        sum(gross_sales_idr)::decimal(38, 2) as gross_sales_idr,
        sum(orders)::bigint as orders,
        count(distinct merchant_id) as active_merchants
    from daily
    group by all

)

select * from monthly
