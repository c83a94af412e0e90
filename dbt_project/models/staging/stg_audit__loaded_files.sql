{{ staged_loaded_files(source('audit', 'loaded_files')) }}
