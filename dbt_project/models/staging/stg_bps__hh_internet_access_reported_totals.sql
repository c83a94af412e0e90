{#
  BPS's national line (INDONESIA) of the table, one row per year and urban/rural class: BPS's
  own national figure (ref_area ID), never a sum of the provinces.
#}

with

source as (

    select * from {{ source('bps', 'hh_internet_access_reported_totals') }}

),

renamed as (

    select
        ----------  ids
        'ID' as ref_area,
        urban_rural,

        ---------- dates
        year,

        ---------- numerics
        households_pct,

        ---------- status
        obs_status,
        obs_note,

        ---------- lineage
        source_file

    from source

)

select * from renamed
