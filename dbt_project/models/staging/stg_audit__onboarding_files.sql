{# The onboarding feed's part of the load audit: what its completeness is judged on. #}
{{ staged_loaded_files(source('audit', 'onboarding_files'), 'onboarding') }}
