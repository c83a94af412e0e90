{#
  One row per release: every snapshot time of indicator_observations (a row opened or closed)
  after the last release recorded. Appended only, in the history database, so a rebuild of the
  working database keeps it; a run that changes no observation adds no snapshot time, so no release.
#}
{# Never rebuilt from scratch (not even by --full-refresh): the run ids and code versions would be lost. #}
{{ config(materialized='incremental', incremental_strategy='append', database='history', schema='meta', full_refresh=false) }}

with

observations as (select * from {{ ref('indicator_observations') }}),

loaded_files as (select * from {{ ref('stg_audit__loaded_files') }}),

snapshot_times as (

    select dbt_valid_from as snapshot_at from observations
    union
    select dbt_valid_to from observations where dbt_valid_to is not null

),

new_releases as (

    select snapshot_at
    from snapshot_times
    {% if is_incremental() %}
    where snapshot_at > (select coalesce(max(snapshot_at), '-infinity'::timestamp) from {{ this }})
    {% endif %}

),

landed as (

    select list(struct_pack(feed, source_file, sha256) order by feed, source_file) as source_files
    from loaded_files

)

select
    (row_number() over (order by new_releases.snapshot_at)
        {% if is_incremental() %} + (select coalesce(max(release_id), 0) from {{ this }}){% endif %})::integer as release_id,
    timezone('UTC', new_releases.snapshot_at) as published_at,
    new_releases.snapshot_at,
    '{{ var("release_run_id") }}' as run_id,
    '{{ var("code_version") }}' as code_version,
    landed.source_files
from new_releases
cross join landed
