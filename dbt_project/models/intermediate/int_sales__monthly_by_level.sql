{{ config(**monthly_incremental('sale_month')) }}

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
    where {{ in_month_window('sale_month') }}

),

monthly as (

    select
        sale_month,
        {{ level_columns() }},
        -- Typed alike on both engines: DuckDB sums into DECIMAL(38, s) and HUGEINT, Spark into DECIMAL(28, s) and BIGINT.
        -- No sum can overflow these types: ingest quarantines a merchant-day above the contract's plausible
        -- 100,000 orders or Rp 5e10 (sources/contracts.yml), and a month has fewer than 2e10 rows (each of
        -- Indonesia's ~65 million UMKM selling on every day of 31 on 10 platforms), so orders sum to at most
        -- 2e15 < 9.2e18 (BIGINT) and rupiah to 1e21 < 1e26 (DECIMAL(28, 2), the narrower).
        sum(gross_sales_idr)::decimal(38, 2) as gross_sales_idr,
        sum(orders)::bigint as orders,
        count(distinct merchant) as active_merchants
    from daily
    -- GROUPING SETS, which sqlfluff's DuckDB dialect cannot parse yet
    {{ group_by_levels('sale_month', ['national', 'province', 'size_class']) }}  -- noqa: PRS

),

final as (

    select
        sale_month,
        ref_area,
        size_class,
        {{ aggregation_level('ref_area', 'size_class') }} as aggregation_level,
        gross_sales_idr,
        orders,
        active_merchants
    from monthly

)

select * from final
