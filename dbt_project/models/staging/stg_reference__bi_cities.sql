with

source as (

    select * from {{ source('reference', 'bi_cities') }}

),

renamed as (

    select
        ----------  ids
        city_code,
        province_code,
        bps_regency_codes,

        ---------- text
        city_name,
        city_name_en,
        name_variants,
        coverage,

        ---------- lineage
        source_file

    from source

)

select * from renamed
