{#
  Every sales file that should have landed, and whether it did: one per platform the platforms
  reference lists for the month, each month from the first landed month to the last. Platforms
  with loaded files that the reference does not expect are listed too (is_expected = false).
#}

with

loaded_files as (select * from {{ ref('stg_audit__sales_files') }}),

platforms as (select * from {{ ref('stg_reference__platforms') }}),

{{ expected_inputs_ctes('loaded_files', 'platforms') }}

select * from inputs
