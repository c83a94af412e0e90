with

programs as (select * from {{ ref('stg_training__programs') }}),

participation as (select * from {{ ref('int_training__participation') }}),

per_program as (

    select
        program_id,
        count(*) as registrations,
        count(*) filter (where was_accepted) as accepted,
        count(*) filter (where status = 'completed') as completed,
        count(*) filter (where status = 'withdrawn') as withdrawn,
        avg(modules_completed) filter (where was_accepted) as mean_modules_completed
    from participation
    group by program_id

),

uptake as (

    select
        programs.program_id,
        programs.program_name,
        programs.organizer,
        programs.start_date,
        programs.end_date,
        programs.capacity,
        programs.modules,
        coalesce(per_program.registrations, 0) as registrations,
        coalesce(per_program.accepted, 0) as accepted,
        coalesce(per_program.completed, 0) as completed,
        coalesce(per_program.withdrawn, 0) as withdrawn,
        {{ pct_ratio('per_program.registrations', 'programs.capacity') }} as oversubscription_pct,
        {{ pct_ratio('per_program.accepted', 'per_program.registrations') }} as acceptance_rate_pct,
        {{ pct_ratio('per_program.completed', 'per_program.accepted') }} as completion_rate_pct,
        {{ obs_status('per_program.completed', 'per_program.accepted') }} as completion_rate_status,
        {{ round_half_away('per_program.mean_modules_completed', 2) }} as mean_modules_completed
    from programs
    left join per_program using (program_id)

)

select * from uptake
