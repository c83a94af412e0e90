{#
  Every published claim against the current release. An `=` claim is compared at the precision
  it is stated with: the computed value, in the claim's unit (unit_mult: 9.4 million is 9.4 x 10^6),
  rounded half away from zero to its decimals, must be the stated figure; truncated instead,
  it is `consistent_if_truncated` (a figure cut rather than rounded). An inequality must hold on
  the computed value. The arithmetic is in decimals, so 14.65 rounds to 14.7 as written, not as
  the nearest double. No value (status L or M, or no such series): `not_computable`.
#}
with

claims as (select * from {{ ref('stg_claims__claims') }}),

indicators as (select * from {{ ref('indicators') }}),

current_release as (select * from {{ ref('releases') }} order by release_id desc limit 1),

matched as (

    select
        claims.*,
        indicators.obs_value as computed_value,
        indicators.obs_status,
        indicators.unit_measure,
        -- The computed value counted in units of the stated figure's last digit (146.875 for 14.6875 at 1 decimal).
        indicators.obs_value::decimal(38, 10) * pow(10, claims.decimals - claims.unit_mult)::decimal(38, 12) as computed_digits,
        claims.stated_value * pow(10, claims.decimals)::decimal(38, 0) as stated_digits,
        claims.stated_value * pow(10, claims.unit_mult)::decimal(38, 0) as stated_in_indicator_unit
    from claims
    left join indicators
        on indicators.indicator_code = claims.indicator_code
        and indicators.ref_area = claims.ref_area
        and indicators.size_class = claims.size_class
        and indicators.breakdown = claims.breakdown
        and indicators.time_period = claims.time_period

),

judged as (

    select
        *,
        case
            when computed_value is null then 'not_computable'
            when comparison = '=' and round(computed_digits) = stated_digits then 'consistent'
            when comparison = '=' and trunc(computed_digits) = stated_digits then 'consistent_if_truncated'
            when comparison = '>' and computed_value::decimal(38, 10) > stated_in_indicator_unit then 'consistent'
            when comparison = '>=' and computed_value::decimal(38, 10) >= stated_in_indicator_unit then 'consistent'
            when comparison = '<' and computed_value::decimal(38, 10) < stated_in_indicator_unit then 'consistent'
            when comparison = '<=' and computed_value::decimal(38, 10) <= stated_in_indicator_unit then 'consistent'
            else 'inconsistent'
        end as verdict
    from matched

)

select
    judged.claim_id,
    judged.source,
    judged.published_on,
    judged.quote,
    judged.indicator_code,
    judged.ref_area,
    judged.size_class,
    judged.breakdown,
    judged.time_period,
    judged.comparison,
    judged.stated_value::double as stated_value,
    judged.unit_mult,
    judged.decimals,
    judged.stated_in_indicator_unit::double as stated_in_indicator_unit,
    judged.computed_value,
    judged.unit_measure,
    judged.obs_status,
    case when judged.comparison = '=' then (round(judged.computed_digits) / pow(10, judged.decimals))::double end as computed_rounded,
    case when judged.comparison = '=' then (trunc(judged.computed_digits) / pow(10, judged.decimals))::double end as computed_truncated,
    judged.computed_value - judged.stated_in_indicator_unit::double as difference,
    judged.verdict,
    current_release.release_id,
    current_release.published_at as release_published_at
from judged
left join current_release on true
order by judged.claim_id
