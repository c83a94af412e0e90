{#
  Bank Indonesia's retail sales index, one row per month, by category (breakdown), at national level (ref_area ID); the INDEKS TOTAL line is breakdown _T.
#}

with

lines as (

    select * from {{ source('bi', 'retail_sales_index') }}

),

national as (

    select * from {{ source('bi', 'retail_sales_index_reported_totals') }}

),

renamed as (

    select
        ----------  ids
        'ID' as ref_area,
        category_code as breakdown,

        ---------- dates
        {{ month_start('period') }} as period_month,

        ---------- numerics
        sales_index,

        ---------- status
        obs_status,

        ---------- lineage
        source_file

    from lines

    union all

    select
        'ID',
        '_T',
        {{ month_start('period') }},
        sales_index,
        obs_status,
        source_file
    from national

)

select * from renamed
