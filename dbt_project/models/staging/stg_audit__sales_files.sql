{# The sales feed's part of the load audit: what its completeness is judged on. #}
{{ staged_loaded_files(source('audit', 'sales_files'), 'sales') }}
