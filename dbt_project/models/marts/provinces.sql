with provinces as (select * from {{ ref('stg_reference__provinces') }})

select
    bps_code,
    kemendagri_code,
    province_name
from provinces
