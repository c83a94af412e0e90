{#
  Every input the monthly feeds should have landed, and whether it did. A feed is expected every
  month from its first landed month to its last; sales once per platform the platforms reference
  lists for the month, onboarding once. Platforms with loaded files that the reference does not
  expect are listed too (expected = false).
#}

with

loaded_files as (select * from {{ ref('stg_audit__loaded_files') }}),

platforms as (select * from {{ ref('stg_reference__platforms') }}),

-- rows_loaded a BIGINT on both engines (DuckDB sums a BIGINT into a HUGEINT).
landed as (

    select feed, file_month as input_month, coalesce(platform, '_Z') as platform, count(*) as files, sum(rows_loaded)::bigint as rows_loaded
    from loaded_files
    where feed in ('sales', 'onboarding')
    group by all

),

feed_months as (

    select feed, {{ month_series('min(input_month)', 'max(input_month)') }} as input_month
    from landed
    group by feed

),

expected as (

    select feed_months.feed, feed_months.input_month, platforms.platform
    from feed_months
    inner join platforms
        on feed_months.input_month >= platforms.first_month
        and (platforms.last_month is null or feed_months.input_month <= platforms.last_month)
    where feed_months.feed = 'sales'
    union all
    select feed, input_month, '_Z'
    from feed_months
    where feed = 'onboarding'

),

inputs as (

    select
        coalesce(expected.feed, landed.feed) as feed,
        coalesce(expected.input_month, landed.input_month) as input_month,
        coalesce(expected.platform, landed.platform) as platform,
        expected.feed is not null as is_expected,
        landed.feed is not null as has_landed,
        coalesce(landed.files, 0) as files,
        coalesce(landed.rows_loaded, 0) as rows_loaded
    from expected
    full outer join landed using (feed, input_month, platform)

)

select * from inputs
