with

gdp as (

    select
        year,
        province_code as grouped_province,
        umkm_value_added_idr_bn,
        gdp_idr_bn
    from {{ ref('stg_gdp__value_added') }}

),

-- National figures are the sum of the provinces (raw/gdp's totals check holds them to the table's
-- national line).
aggregated as (

    select
        year,
        coalesce(grouped_province, 'ID') as ref_area,
        sum(umkm_value_added_idr_bn) as umkm_value_added_idr_bn,
        sum(gdp_idr_bn) as gdp_idr_bn
    from gdp
    {{ group_by_levels('year', ['national', 'province']) }}

),

labelled as (

    select
        year,
        ref_area,
        {{ aggregation_level('ref_area', "'_T'") }} as aggregation_level,
        umkm_value_added_idr_bn,
        gdp_idr_bn
    from aggregated

)

select * from labelled
