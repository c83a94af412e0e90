{#
  BPS's table, one row per year, area and urban/rural class: the provinces' lines and BPS's own
  national line (ref_area ID), which is a figure of its own, never a sum of the provinces.
#}

with

provinces as (

    select * from {{ source('bps', 'hh_internet_access') }}

),

national as (

    select * from {{ source('bps', 'hh_internet_access_reported_totals') }}

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

    from provinces

    union all

    select
        'ID',
        urban_rural,
        year,
        households_pct,
        obs_status,
        obs_note,
        source_file
    from national

)

select * from renamed
