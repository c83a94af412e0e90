{#
  BPS's share of households that used the internet in the last 3 months, by area (ID: BPS's own
  national figure) and urban/rural class. A cell BPS left empty (`-`) or the contract declares not
  applicable (DKI Jakarta's rural class) keeps its status (L, M) and has no value; a province
  whose territory changed in the year (Papua and Papua Barat in 2022: their figures cover the
  territory before the split) has status B, as every level does (macro level_status). The status
  is judged on each staging model before the union (Spark cannot push a correlated subquery
  through a union).
#}

{% set published = ['stg_bps__hh_internet_access', 'stg_bps__hh_internet_access_reported_totals'] %}

with

{% for model in published %}
{{ model }} as (

    select
        year,
        ref_area,
        urban_rural,
        households_pct,
        case when obs_status = 'A'
            then {{ level_status(model ~ '.ref_area', 'make_date(' ~ model ~ '.year, 1, 1)', 'year', 'households_pct') }}
            else obs_status end as obs_status,
        obs_note,
        source_file
    from {{ ref(model) }}

){% if not loop.last %},{% endif %}
{% endfor %}

{% for model in published %}
select * from {{ model }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
