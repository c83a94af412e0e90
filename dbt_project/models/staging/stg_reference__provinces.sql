with

source as (

    select * from {{ source('reference', 'provinces') }}

),

renamed as (

    select
        ----------  ids
        bps_code,
        kemendagri_code,
        iso_3166_2,

        ---------- text
        province_name,
        name_variants,

        ---------- validity
        valid_from,
        valid_to,
        split_from,

        ---------- lineage
        source_file

    from source

)

select * from renamed
