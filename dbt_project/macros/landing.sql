{#
  The landed files of the audit (a source of audit.loaded_files), renamed: one macro for the
  whole audit and for each monthly feed's part of it, so they cannot drift apart.
#}
{% macro staged_loaded_files(source_relation, feed=none) %}
with

source as (

    select * from {{ source_relation }}
    {% if feed %}where feed = '{{ feed }}'{% endif %}

),

renamed as (

    select
        ----------  ids
        feed,
        source_file,
        sha256,
        {{ json_string('path_fields', 'platform') }} as platform,

        ---------- dates
        {{ month_start(json_string('path_fields', 'month')) }} as file_month,
        loaded_at,

        ---------- numerics
        rows_loaded

    from source

)

select * from renamed
{% endmacro %}


{#
  The CTEs `landed`, `feed_months`, `expected` and `inputs` of a monthly feed's expected inputs,
  from its landed files (`loaded_files`): the feed is expected every month from its first landed
  month to its last, once per platform of `platforms` valid in the month or, without platforms,
  once (platform `_Z`, not applicable). Inputs landed without being expected are kept too.
#}
{% macro expected_inputs_ctes(loaded_files, platforms=none) %}
-- rows_loaded a BIGINT on both engines (DuckDB sums a BIGINT into a HUGEINT).
landed as (

    select feed, file_month as input_month, coalesce(platform, '_Z') as platform, count(*) as files, sum(rows_loaded)::bigint as rows_loaded
    from {{ loaded_files }}
    group by all

),

feed_months as (

    select feed, {{ month_series('min(input_month)', 'max(input_month)') }} as input_month
    from landed
    group by feed

),

expected as (

    {% if platforms %}
    select feed_months.feed, feed_months.input_month, platforms.platform
    from feed_months
    inner join {{ platforms }} as platforms
        on feed_months.input_month >= platforms.first_month
        and (platforms.last_month is null or feed_months.input_month <= platforms.last_month)
    {% else %}
    select feed, input_month, '_Z' as platform
    from feed_months
    {% endif %}

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
{% endmacro %}
