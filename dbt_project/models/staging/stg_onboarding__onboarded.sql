with

source as (

    select * from {{ source('onboarding', 'onboarding') }}

),

renamed as (

    select
        ----------  ids
        province_code,
        size_class,
        program,

        ---------- dates
        report_month,
        {{ month_start('report_month') }} as onboarded_month,

        ---------- numerics
        newly_onboarded,

        ---------- lineage
        source_file

    from source

)

select * from renamed
