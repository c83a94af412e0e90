{#
  The days a province's territory changed: when a province is split from it, the parent keeps
  its code on a smaller territory, so its series break there. The new provinces' series simply
  start at their creation; national series continue.
#}

with provinces as (select * from {{ ref('stg_reference__provinces') }})

select
    split_from as ref_area,
    valid_from as changed_on
from provinces
where split_from is not null
group by all
