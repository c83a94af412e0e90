with

source as (

    select * from {{ source('gdp', 'gdp') }}

),

renamed as (

    select
        ----------  ids
        province_code,

        ---------- dates
        year,

        ---------- numerics
        umkm_value_added_idr_bn,
        gdp_idr_bn,

        ---------- lineage
        source_file

    from source

)

select * from renamed
