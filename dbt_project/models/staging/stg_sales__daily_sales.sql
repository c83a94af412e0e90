with

source as (

    select * from {{ source('sales', 'sales') }}

),

renamed as (

    select
        ----------  ids
        platform,
        merchant_id,
        province_code,
        size_class,

        ---------- dates
        sale_date,
        {{ dbt.date_trunc('month', 'sale_date') }}::date as sale_month,

        ---------- numerics
        orders,
        gross_sales_idr,

        ---------- lineage
        source_file

    from source

)

select * from renamed
