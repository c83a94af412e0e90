{#
  marts.indicators with a label beside every code, for BI tools that show names, not codes, and
  the origin and source of every value: a chart built on it can always say which figures are synthetic.
#}

with

indicators as (select * from {{ ref('indicators') }}),

catalog as (select * from {{ ref('indicator_catalog') }}),

provinces as (select * from {{ ref('provinces') }}),

platforms as (select * from {{ ref('platforms') }}),

code_labels as (select * from {{ ref('code_labels') }}),

programmes as (select * from {{ ref('stg_training__programs') }}),

-- A breakdown is a platform (sales) or a programme (training); should a slug ever name both, the
-- key test fails rather than a label being picked at random.
breakdowns as (

    select code as breakdown, label as breakdown_name from code_labels where code_list = 'BREAKDOWN'
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
        coalesce(area.label, provinces.province_name) as ref_area_name,
        -- `ID`, the national area, is already its ISO 3166-1 code.
        coalesce(provinces.iso_3166_2, indicators.ref_area) as ref_area_iso_code,
        indicators.size_class,
        size_class.label as size_class_name,
        indicators.breakdown,
        -- A platform that landed without being in the platforms reference has only its slug.
        coalesce(breakdowns.breakdown_name, indicators.breakdown) as breakdown_name,
        indicators.time_period,
        indicators.period_start,
        indicators.period_start = max(indicators.period_start) over (partition by indicators.indicator_code) as is_latest_period,
        indicators.frequency,
        frequency.label as frequency_name,
        indicators.obs_value,
        indicators.unit_measure,
        unit.label as unit_name,
        indicators.obs_status,
        status.label as obs_status_name,
        catalog.origin,
        catalog.source
    from indicators
    left join catalog on catalog.indicator_code = indicators.indicator_code
    left join provinces on provinces.bps_code = indicators.ref_area
    left join breakdowns on breakdowns.breakdown = indicators.breakdown
    {{ join_code_label('area', 'REF_AREA', 'indicators.ref_area') }}
    {{ join_code_label('size_class', 'SIZE_CLASS', 'indicators.size_class') }}
    {{ join_code_label('frequency', 'FREQ', 'indicators.frequency') }}
    {{ join_code_label('unit', 'UNIT_MEASURE', 'indicators.unit_measure') }}
    {{ join_code_label('status', 'OBS_STATUS', 'indicators.obs_status') }}

)

select * from labelled
order by {{ observation_key() }}
