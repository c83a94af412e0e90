with labels as (select * from {{ ref('code_labels_seed') }})

select * from labels
