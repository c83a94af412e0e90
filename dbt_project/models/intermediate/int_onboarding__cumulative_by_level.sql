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
    {{ group_by_levels('onboarded_month', ['national', 'province', 'size_class', 'province_size_class']) }}

),

spine as ({{ level_month_spine('monthly', 'onboarded_month') }}),

cumulated as (

    select
        spine.onboarded_month,
        spine.ref_area,
        spine.size_class,
        {{ aggregation_level('spine.ref_area', 'spine.size_class') }} as aggregation_level,
        coalesce(monthly.newly_onboarded, 0)::bigint as newly_onboarded,
        sum(coalesce(monthly.newly_onboarded, 0)) over (
            partition by spine.ref_area, spine.size_class
            order by spine.onboarded_month
        )::bigint as cumulative_onboarded
    from spine
    left join monthly using (onboarded_month, ref_area, size_class)

)

select * from cumulated
