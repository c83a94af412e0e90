{#
  marts.indicators with a label beside every code, for BI tools that show names, not codes.
#}

with

indicators as (select * from {{ ref('indicators') }}),

catalog as (select * from {{ ref('indicator_catalog') }}),

provinces as (select * from {{ ref('provinces') }}),

platforms as (select * from {{ ref('stg_reference__platforms') }}),

programmes as (select * from {{ ref('stg_training__programs') }}),

-- A breakdown is a platform (sales) or a programme (training); should a slug ever name both, the
-- key test fails rather than a label being picked at random.
breakdowns as (

    select '_T' as breakdown, 'Total' as breakdown_name
    union all
    select platform, platform_name from platforms
    union all
    select program_id, program_name from programmes

),

labelled as (

    select
        indicators.indicator_code,
        catalog.indicator_name,
        indicators.ref_area,
        case when indicators.ref_area = 'ID' then 'Indonesia' else provinces.province_name end as ref_area_name,
        indicators.size_class,
        {{ code_label('size_class', 'indicators.size_class') }} as size_class_name,
        indicators.breakdown,
        -- A platform that landed without being in the platforms reference has only its slug.
        coalesce(breakdowns.breakdown_name, indicators.breakdown) as breakdown_name,
        indicators.time_period,
        indicators.period_start,
        indicators.frequency,
        {{ code_label('frequency', 'indicators.frequency') }} as frequency_name,
        indicators.obs_value,
        indicators.unit_measure,
        {{ code_label('unit_measure', 'indicators.unit_measure') }} as unit_name,
        indicators.obs_status,
        {{ code_label('obs_status', 'indicators.obs_status') }} as obs_status_name
    from indicators
    left join catalog on catalog.indicator_code = indicators.indicator_code
    left join provinces on provinces.bps_code = indicators.ref_area
    left join breakdowns on breakdowns.breakdown = indicators.breakdown

)

select * from labelled
order by indicator_code, ref_area, size_class, breakdown, time_period
