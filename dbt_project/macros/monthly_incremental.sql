{#
  The config of a model built month by month (its rows for the run's months replaced, see
  month_window.sql): `{{ config(**monthly_incremental('sale_month')) }}`. DuckDB deletes the
  months the run built and inserts them again; Spark's Parquet tables (no merge without Delta or
  Iceberg) are partitioned by month and the run's partitions overwritten (the session's
  partitionOverwriteMode is dynamic: the other months stay). Spark moves the partition column to
  the end of the table.
#}
{% macro monthly_incremental(month_column) -%}
    {{ return(adapter.dispatch('monthly_incremental')(month_column)) }}
{%- endmacro %}

{% macro default__monthly_incremental(month_column) -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'delete+insert', 'unique_key': month_column}) }}
{%- endmacro %}

{% macro spark__monthly_incremental(month_column) -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'insert_overwrite',
               'partition_by': [month_column], 'file_format': 'parquet'}) }}
{%- endmacro %}
