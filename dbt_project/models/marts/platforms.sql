with platforms as (select * from {{ ref('stg_reference__platforms') }})

select
    platform,
    platform_name,
    first_month,
    last_month
from platforms
