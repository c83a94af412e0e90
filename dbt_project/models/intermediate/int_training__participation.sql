with

registrations as (select * from {{ ref('stg_training__registrations') }}),

programs as (select * from {{ ref('stg_training__programs') }}),

joined as (

    select
        registrations.registration_id,
        registrations.program_id,
        registrations.status,
        registrations.was_accepted,
        registrations.modules_completed,
        programs.modules
    from registrations
    inner join programs using (program_id)

)

select * from joined
