{#
  The seed's labels, and those of the published tables' reference codes: the retail sales
  survey's categories (BREAKDOWN) and its cities (REF_AREA; Jakarta is the province of DKI
  Jakarta, labelled with the provinces).
#}

with

labels as (select * from {{ ref('code_labels_seed') }}),

categories as (select * from {{ ref('stg_reference__bi_retail_categories') }}),

cities as (select * from {{ ref('stg_reference__bi_cities') }}),

provinces as (select * from {{ ref('stg_reference__provinces') }})

select code_list, code, label from labels
union all
select 'BREAKDOWN', category_code, category_name_en || ' (' || category_name || ')' from categories
union all
select 'REF_AREA', city_code, city_name_en || ' (Bank Indonesia survey city: ' || coverage || ')' from cities
where cities.city_code not in (select provinces.bps_code from provinces)
