with

onboarded as (

    select
        onboarded_month,
        province_code as grouped_province,
        size_class as grouped_size_class,
        newly_onboarded
    from {{ ref('stg_onboarding__onboarded') }}

),

monthly as (

    select
        onboarded_month,
        {{ level_columns() }},
        sum(newly_onboarded) as newly_onboarded
    from onboarded
    -- GROUPING SETS, which sqlfluff's DuckDB dialect cannot parse yet
    {{ group_by_levels('onboarded_month', ['national', 'province', 'size_class', 'province_size_class']) }}  -- noqa: PRS

),

-- A month's count is known when its file landed; the cumulative only while no earlier month is missing.
onboarding_months as (

    select
        input_month as onboarded_month,
        has_landed,
        bool_and(has_landed) over (order by input_month) as is_complete_to_date
    from {{ ref('int_landing__onboarding_inputs') }}

),

spine as ({{ level_month_spine('onboarding_months', 'monthly') }}),

cumulated as (

    select
        spine.onboarded_month,
        spine.ref_area,
        spine.size_class,
        {{ aggregation_level('spine.ref_area', 'spine.size_class') }} as aggregation_level,
        case when spine.has_landed then coalesce(monthly.newly_onboarded, 0) end::bigint as newly_onboarded,
        case when spine.is_complete_to_date then sum(coalesce(monthly.newly_onboarded, 0)) over (
            partition by spine.ref_area, spine.size_class
            order by spine.onboarded_month
        ) end::bigint as cumulative_onboarded
    from spine
    left join monthly using (onboarded_month, ref_area, size_class)

)

select * from cumulated
