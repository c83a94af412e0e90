with

gdp as (select * from {{ ref('stg_gdp__value_added') }}),

provinces as (

    select
        year,
        province_code as ref_area,
        'province' as aggregation_level,
        umkm_value_added_idr_bn,
        gdp_idr_bn
    from gdp

),

-- The national figures are the sum of the provinces (raw/gdp's totals check holds them to the
-- table's national line).
national as (

    select
        year,
        'ID' as ref_area,
        'national' as aggregation_level,
        -- Typed alike on both engines: DuckDB sums into DECIMAL(38, 1), Spark into DECIMAL(28, 1).
        sum(umkm_value_added_idr_bn)::decimal(38, 1) as umkm_value_added_idr_bn,
        sum(gdp_idr_bn)::decimal(38, 1) as gdp_idr_bn
    from gdp
    group by year

)

select * from national
union all
select * from provinces
