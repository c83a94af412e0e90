{#
  Bank Indonesia's retail sales growth, one row per month, by category (breakdown), at national level (ref_area ID); the INDEKS TOTAL line is breakdown _T.
#}

with

lines as (

    select * from {{ source('bi', 'retail_sales_growth') }}

),

national as (

    select * from {{ source('bi', 'retail_sales_growth_reported_totals') }}

),

renamed as (

    select
        ----------  ids
        'ID' as ref_area,
        category_code as breakdown,
        measure,

        ---------- dates
        {{ month_start('period') }} as period_month,

        ---------- numerics
        growth_pct,

        ---------- status
        obs_status,

        ---------- lineage
        source_file

    from lines

    union all

    select
        'ID',
        '_T',
        measure,
        {{ month_start('period') }},
        growth_pct,
        obs_status,
        source_file
    from national

)

select * from renamed
