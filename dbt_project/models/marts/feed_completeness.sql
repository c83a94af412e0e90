with

sales_inputs as (select * from {{ ref('int_landing__sales_inputs') }}),

onboarding_inputs as (select * from {{ ref('int_landing__onboarding_inputs') }}),

inputs as (

    select * from sales_inputs
    union all
    select * from onboarding_inputs

)

select
    feed,
    input_month,
    platform,
    is_expected,
    has_landed,
    files,
    rows_loaded,
    case
        when is_expected and not has_landed then 'missing'
        when not is_expected then 'unexpected'
        else 'landed'
    end as completeness
from inputs
