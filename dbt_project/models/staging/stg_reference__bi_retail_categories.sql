with

source as (

    select * from {{ source('reference', 'bi_retail_categories') }}

),

renamed as (

    select
        ----------  ids
        category_code,
        part_of,

        ---------- text
        category_name,
        category_name_en,
        name_variants,
        description,

        ---------- lineage
        source_file

    from source

)

select * from renamed
