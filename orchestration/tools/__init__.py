"""Local services a user starts by hand, never a pipeline step: the Superset dashboard, a Spark
standalone cluster, a PostgreSQL server for Dagster's instance."""
