with

source as (

    select * from {{ source('reference', 'platforms') }}

),

renamed as (

    select
        ----------  ids
        platform,

        ---------- text
        platform_name,

        ---------- dates
        {{ month_start('first_month') }} as first_month,
        {{ month_start('last_month') }} as last_month,

        ---------- lineage
        source_file

    from source

)

select * from renamed
