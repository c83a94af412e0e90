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
        -- No sum can overflow these types: ingest quarantines a merchant-day above the contract's plausible
        -- 100,000 orders or Rp 5e10 (sources/contracts.yml), and a month has fewer than 2e10 rows (each of
        -- Indonesia's ~65 million UMKM selling on every day of 31 on 10 platforms), so orders sum to at most
        -- 2e15 < 9.2e18 (BIGINT) and rupiah to 1e21 < 1e26 (DECIMAL(28, 2), the narrower).
        sum(gross_sales_idr)::decimal(38, 2) as gross_sales_idr,
        sum(orders)::bigint as orders,
        count(distinct merchant_id) as active_merchants
    from daily
    group by all

)

select * from monthly
