with

source as (

    select * from {{ source('population', 'population') }}

),

renamed as (

    select
        ----------  ids
        province_code,
        size_class,

        ---------- dates
        year,

        ---------- numerics
        enterprises,

        ---------- lineage
        source_file

    from source

)

select * from renamed
