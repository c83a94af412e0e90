{#
  Bank Indonesia's retail sales index city, one row per month, by city (ref_area, a code of reference/bi_cities.csv), all categories (breakdown _T); the INDEKS TOTAL line is Indonesia (ref_area ID).
#}

with

lines as (

    select * from {{ source('bi', 'retail_sales_index_city') }}

),

national as (

    select * from {{ source('bi', 'retail_sales_index_city_reported_totals') }}

),

renamed as (

    select
        ----------  ids
        city_code as ref_area,
        '_T' as breakdown,

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
