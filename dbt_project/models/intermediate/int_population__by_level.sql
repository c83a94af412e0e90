with

population as (

    select
        year,
        province_code as grouped_province,
        size_class as grouped_size_class,
        enterprises
    from {{ ref('stg_population__enterprises') }}

),

aggregated as (

    select
        year,
        {{ level_columns() }},
        sum(enterprises)::bigint as enterprises
    from population
    -- GROUPING SETS, which sqlfluff's DuckDB dialect cannot parse yet
    {{ group_by_levels('year', ['national', 'province', 'size_class', 'province_size_class']) }}  -- noqa: PRS

),

labelled as (

    select
        year,
        ref_area,
        size_class,
        {{ aggregation_level('ref_area', 'size_class') }} as aggregation_level,
        enterprises
    from aggregated

)

select * from labelled
