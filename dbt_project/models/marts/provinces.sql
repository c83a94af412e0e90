with provinces as (select * from {{ ref('stg_reference__provinces') }})

select
    bps_code,
    kemendagri_code,
    iso_3166_2,
    province_name,
    valid_from,
    valid_to,
    split_from
from provinces
