with

source as (

    select * from {{ source('audit', 'loaded_files') }}

),

renamed as (

    select
        ----------  ids
        feed,
        source_file,
        sha256,
        {{ json_string('path_fields', 'platform') }} as platform,

        ---------- dates
        {{ month_start(json_string('path_fields', 'month')) }} as file_month,
        loaded_at,

        ---------- numerics
        rows_loaded

    from source

)

select * from renamed
