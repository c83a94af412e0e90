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
        coalesce(grouped_province, 'ID') as ref_area,
        coalesce(grouped_size_class, '_T') as size_class,
        sum(newly_onboarded) as newly_onboarded
    from onboarded
    group by grouping sets (
        (onboarded_month, grouped_province, grouped_size_class),
        (onboarded_month, grouped_province),
        (onboarded_month, grouped_size_class),
        (onboarded_month)
    )

),

months as ({{ month_spine('onboarded', 'onboarded_month') }}),

series as (select distinct ref_area, size_class from monthly),

spine as (select * from months cross join series),

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
