{#
  Every onboarding file that should have landed, and whether it did: one per month from the
  first landed month to the last (platform `_Z`, not applicable).
#}

with

loaded_files as (select * from {{ ref('stg_audit__onboarding_files') }}),

{{ expected_inputs_ctes('loaded_files') }}

select * from inputs
