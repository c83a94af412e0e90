{#
  BPS's table, one row per year, province and urban/rural class. Its national line is
  stg_bps__hh_internet_access_reported_totals.
#}

with

source as (

    select * from {{ source('bps', 'hh_internet_access') }}

),

renamed as (

    select
        ----------  ids
        province_code as ref_area,
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
