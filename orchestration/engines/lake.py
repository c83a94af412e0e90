"""The raw layer as a lake, on the Spark engine: what ingest loaded, as Parquet in the lake
directory, registered in Spark's catalog under the same names (`raw.sales`, `audit.loaded_files`).

Ingest is unchanged: DuckDB reads the landed files, holds them to the contract, quarantines and
audits in one transaction on the working database. The lake is written from that commit: a monthly
feed by month (`landed_month=YYYY-MM`, the month the file's path names), only the months whose
files this load changed, each month swapped in whole; the other feeds and the audit in whole. A
month's Parquet is independent of every other month's, so the monthly partitions of a feed can be
written side by side; here the working database's single writer orders them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from orchestration.contracts import FeedContract, is_monthly
from orchestration.ingest.commit import FeedLoad
from orchestration.ingest.landing import file_month, path_struct_sql
from orchestration.sql import quoted, sql_literal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The month a row's file is for: the lake's partition column of a monthly feed.
MONTH_COLUMN = "landed_month"
AUDIT_TABLE = ("audit", "loaded_files")


def land(con: duckdb.DuckDBPyConnection, feed: FeedContract, load: FeedLoad, spark: SparkSession, lake: Path) -> list[str]:
    """After a feed's commit: its rows and the audit to the lake, registered in Spark's catalog."""
    months = export_feed(con, feed, load, lake)
    # A table's published national line (a dbt source of its own) goes with its rows.
    national = [("raw", feed.layout["totals_table"])] if feed.is_table and not feed.checks_totals else []
    for schema, table in national:
        _swap(con, f"SELECT * FROM {schema}.{quoted(table)}", table_dir(lake, schema, table))
    export_audit(con, lake)
    register(spark, lake, [tuple(feed.raw_table.split(".")), *national, AUDIT_TABLE])
    return months


def table_dir(lake: Path, schema: str, table: str) -> Path:
    return lake / schema / table


def export_feed(con: duckdb.DuckDBPyConnection, feed: FeedContract, load: FeedLoad, lake: Path) -> list[str]:
    """Write the feed's raw table to the lake: the months whose files this load wrote or removed
    (and any month the lake lacks), or the whole table for a feed without months. Returns the
    months (or ["all"]) written."""
    schema, table = feed.raw_table.split(".")
    target = table_dir(lake, schema, table)
    if not is_monthly(feed):
        _swap(con, f"SELECT * FROM {feed.raw_table}", target)
        return ["all"]
    month = f"{path_struct_sql(feed, 'source_file')}.month"
    loaded = {m for (m,) in con.execute(f"SELECT DISTINCT {month} FROM {feed.raw_table}").fetchall()}
    changed = {file_month(feed, f.source_file) for f in load.files if f.status in ("loaded", "removed")}
    present = {p.name.removeprefix(f"{MONTH_COLUMN}=") for p in target.glob(f"{MONTH_COLUMN}=*")}
    months = sorted((changed | (loaded - present)) - {None})
    if not months:
        return []
    scratch = target / f".writing-{uuid.uuid4().hex}"
    target.mkdir(parents=True, exist_ok=True)
    try:
        con.execute(
            f"COPY (SELECT *, {month} AS {MONTH_COLUMN} FROM {feed.raw_table} WHERE {month} IN ({', '.join(map(sql_literal, months))})) "
            f"TO {sql_literal(str(scratch))} (FORMAT parquet, PARTITION_BY ({MONTH_COLUMN}), COMPRESSION zstd)"
        )
        for m in months:
            _replace_dir(scratch / f"{MONTH_COLUMN}={m}", target / f"{MONTH_COLUMN}={m}")  # absent: its files were removed
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return months


def export_audit(con: duckdb.DuckDBPyConnection, lake: Path) -> None:
    """audit.loaded_files, which the completeness models read, in whole (a row per landed file)."""
    _swap(con, "SELECT * FROM audit.loaded_files", table_dir(lake, *AUDIT_TABLE))


def _swap(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """Write a query's rows as the Parquet of an unpartitioned table, replacing it whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    scratch.mkdir()
    try:
        con.execute(f"COPY ({query}) TO {sql_literal(str(scratch / 'data.parquet'))} (FORMAT parquet, COMPRESSION zstd)")
        _replace_dir(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _replace_dir(new: Path, target: Path) -> None:
    """Put `new` in `target`'s place (each a rename: a reader sees the old or the new folder); a
    missing `new` removes `target`."""
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
    if target.exists():
        target.rename(old)
    if new.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def register(spark: SparkSession, lake: Path, tables: Iterable[tuple[str, str]]) -> None:
    """(Re)register lake tables in Spark's catalog: external Parquet tables over their folders
    (dropping one never deletes its files), with the months now present as partitions."""
    for schema, table in tables:
        location = table_dir(lake, schema, table)
        name = f"`{schema}`.`{table}`"
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
        spark.sql(f"DROP TABLE IF EXISTS {name}")
        if not location.exists():
            continue
        spark.sql(f"CREATE TABLE {name} USING parquet LOCATION {sql_literal(str(location))}")
        if any(location.glob(f"{MONTH_COLUMN}=*")):
            spark.sql(f"MSCK REPAIR TABLE {name}")


def copy_to_duckdb(spark: SparkSession, con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[str], comments: dict[str | None, str]) -> int:
    """Copy a table the engine built into the working database (through Arrow, no pandas), with
    the yml's column order (Spark puts a partition column last) and its descriptions as comments,
    as dbt-duckdb's persist_docs writes them: publishing, the releases and BI tools read it there.
    Spark's UTC timestamps land as DuckDB's TIMESTAMP (UTC), what the DuckDB models make."""
    arrow = spark.table(f"`{schema}`.`{table}`").toArrow()
    names = arrow.column_names
    ordered = [c for c in columns if c in names] + [c for c in names if c not in columns]
    zoned = {f.name for f in arrow.schema if getattr(f.type, "tz", None)}
    select = ", ".join(f"timezone('UTC', {quoted(c)}) AS {quoted(c)}" if c in zoned else quoted(c) for c in ordered)
    con.register("engine_table", arrow)
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)}")
        con.execute(f"CREATE OR REPLACE TABLE {quoted(schema)}.{quoted(table)} AS SELECT {select} FROM engine_table")
    finally:
        con.unregister("engine_table")
    for column, comment in comments.items():
        target = f"TABLE {quoted(schema)}.{quoted(table)}" if column is None else f"COLUMN {quoted(schema)}.{quoted(table)}.{quoted(column)}"
        if column is None or column in names:
            con.execute(f"COMMENT ON {target} IS {sql_literal(comment)}")
    return arrow.num_rows
