"""Where the models run besides the embedded DuckDB: the Spark session and the raw layer as a lake."""
