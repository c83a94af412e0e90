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
        coalesce(grouped_province, 'ID') as ref_area,
        coalesce(grouped_size_class, '_T') as size_class,
        {{ aggregation_level("coalesce(grouped_province, 'ID')", "coalesce(grouped_size_class, '_T')") }} as aggregation_level,
        sum(enterprises)::bigint as enterprises
    from population
    group by grouping sets (
        (year, grouped_province, grouped_size_class),
        (year, grouped_province),
        (year, grouped_size_class),
        (year)
    )

)

select * from aggregated
