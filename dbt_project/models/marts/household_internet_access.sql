{#
  BPS's share of households that used the internet in the last 3 months, by area (ID: BPS's own
  national figure) and urban/rural class. A cell BPS left empty (`-`) or the contract declares not
  applicable (DKI Jakarta's rural class) keeps its status (L, M) and has no value; a province
  whose territory changed in the year (Papua and Papua Barat in 2022: their figures cover the
  territory before the split) has status B, as every level does (macro level_status).
#}

with published as (select * from {{ ref('stg_bps__hh_internet_access') }})

select
    year,
    ref_area,
    urban_rural,
    households_pct,
    case when obs_status = 'A'
        then {{ level_status('published.ref_area', 'make_date(published.year, 1, 1)', 'year', 'households_pct') }}
        else obs_status end as obs_status,
    obs_note,
    source_file
from published
