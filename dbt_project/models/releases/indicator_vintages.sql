{#
  Every version of every observation with the releases that published and replaced it:
  release_to NULL while it is current. What a user read on any date is the row whose
  [published_from, published_to) holds that date (the table macro marts.indicators_as_published
  in the published database).
#}
with

observations as (select * from {{ ref('indicator_observations') }}),

releases as (select * from {{ ref('releases') }}),

vintages as (

    select
        observations.indicator_code,
        observations.ref_area,
        observations.size_class,
        observations.breakdown,
        observations.time_period,
        observations.period_start,
        observations.frequency,
        observations.obs_value,
        observations.unit_measure,
        observations.obs_status,
        opened.release_id as release_from,
        closed.release_id as release_to,
        opened.published_at as published_from,
        closed.published_at as published_to
    from observations
    inner join releases as opened on opened.snapshot_at = observations.dbt_valid_from
    left join releases as closed on closed.snapshot_at = observations.dbt_valid_to

)

select * from vintages
order by {{ observation_key(['release_from']) }}
