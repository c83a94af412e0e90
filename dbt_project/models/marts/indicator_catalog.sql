with catalog as (select * from {{ ref('indicator_catalog_seed') }})

select * from catalog
