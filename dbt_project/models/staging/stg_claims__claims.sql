with

source as (

    select * from {{ source('claims', 'claims') }}

),

renamed as (

    select
        ----------  ids
        claim_id,

        ---------- text
        source,
        quote,

        ---------- observation key
        indicator_code,
        ref_area,
        size_class,
        breakdown,
        time_period,

        ---------- dates
        published_on,

        ---------- the figure as stated
        comparison,
        stated_value,
        unit_mult,
        decimals,

        ---------- lineage
        source_file

    from source

)

select * from renamed
