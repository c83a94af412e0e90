with

source as (

    select * from {{ source('training', 'training_programs') }}

),

renamed as (

    select
        ----------  ids
        program_id,

        ---------- text
        program_name,
        organizer,

        ---------- dates
        start_date,
        end_date,

        ---------- numerics
        capacity,
        modules,

        ---------- lineage
        source_file

    from source

)

select * from renamed
