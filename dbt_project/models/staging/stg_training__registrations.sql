with

source as (

    select * from {{ source('training', 'training_registrations') }}

),

renamed as (

    select
        ----------  ids
        registration_id,
        program_id,
        province_code,
        size_class,

        ---------- text
        status,

        ---------- booleans
        status in ('accepted', 'completed', 'withdrawn') as was_accepted,

        ---------- dates
        registered_at,

        ---------- numerics
        modules_completed,

        ---------- lineage
        source_file

    from source

)

select * from renamed
