with

source as (

    select * from {{ source('reference', 'provinces') }}

),

renamed as (

    select
        ----------  ids
        bps_code,
        kemendagri_code,

        ---------- text
        province_name,
        name_variants,

        ---------- lineage
        source_file

    from source

)

select * from renamed
