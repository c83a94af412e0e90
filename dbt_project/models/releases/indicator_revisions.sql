{#
  Revisions of every observation ever published: its first published value, the latest, and the
  revision between them (latest - first; relative, in % of the first), as revision analyses in
  official statistics report them, with each indicator's mean revision (bias) and mean absolute
  revision (size) over its observations that have a value in both. Also the value before the
  latest release, so that what one release revised can be read on its own.
#}
with

vintages as (select * from {{ ref('indicator_vintages') }}),

ranked as (

    select
        *,
        row_number() over observation as version_number,
        count(*) over (partition by {{ observation_key() }}) as versions,
        lag(obs_value) over observation as previous_value,
        first_value(obs_value) over observation as first_value,
        first_value(obs_status) over observation as first_status,
        first_value(release_from) over observation as first_release
    from vintages
    window observation as (partition by {{ observation_key() }} order by release_from)

),

latest as (

    select
        indicator_code,
        ref_area,
        size_class,
        breakdown,
        time_period,
        unit_measure,
        versions,
        first_release,
        first_value,
        first_status,
        release_from as latest_release,
        obs_value as latest_value,
        obs_status as latest_status,
        release_to is null as is_current,
        previous_value,
        obs_value - first_value as revision,
        {{ pct_change('obs_value', 'first_value') }} as revision_pct
    from ranked
    where version_number = versions

)

select
    *,
    avg(revision) over (partition by indicator_code) as mean_revision,
    avg(abs(revision)) over (partition by indicator_code) as mean_absolute_revision
from latest
order by {{ observation_key() }}
