"""The Spark engine (settings.ENGINE `spark`) and its session: one per process, shared by dbt
(dbt-spark's `session` method takes the active session), the lake's registration and Pandera (ibis on it).

Imported only on Spark: pyspark and its JVM are not loaded by a DuckDB run.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration import settings
from orchestration.engines.base import Column, Connect, Engine, ModelTable
from orchestration.engines.lake import copy_to_duckdb, land, table_dir

if TYPE_CHECKING:
    import duckdb
    from ibis.backends import BaseBackend
    from pyspark.sql import SparkSession

    from orchestration.contracts import FeedContract
    from orchestration.ingest.commit import FeedLoad

# Spark's own catalog of the databases dbt builds into and the raw tables of the lake; one
# process owns it at a time (an embedded Derby database), as the warehouse pool already ensures.
METASTORE = "metastore_db"
# Managed tables (the models dbt builds) live beside the raw layer, on the storage executors read.
MANAGED_TABLES = "warehouse"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


@dataclass(frozen=True)
class SparkEngine(Engine):
    """dbt builds the models on a Spark session over the lake: the raw layer lands there after each
    load, the marts come back to the working database after each step. Unset fields are the settings'."""

    name = "spark"
    lake: Path = field(default_factory=settings.lake_dir)
    master: str = field(default_factory=settings.spark_master)
    shuffle_partitions: str = field(default_factory=settings.SPARK_SHUFFLE_PARTITIONS.value)
    driver_memory: str = field(default_factory=settings.SPARK_DRIVER_MEMORY.value)
    executor_memory: str = field(default_factory=settings.SPARK_EXECUTOR_MEMORY.value)

    def session_config(self) -> dict[str, str]:
        """The session's settings: the catalog and managed tables in the lake, at absolute paths
        (by default Spark puts its catalog in the working directory: two processes, two catalogs)."""
        lake = self.lake
        return {
            "spark.master": self.master,
            "spark.app.name": "digital-economy-indicators",
            "spark.sql.warehouse.dir": str(lake / MANAGED_TABLES),
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={lake / METASTORE};create=true",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={lake} -Dderby.stream.error.file={lake / 'derby.log'} -Dlog4j2.configurationFile={LOG_CONFIG}",
            # The progress bar would interleave with dbt's JSON log lines, and dagster-dbt lose events.
            "spark.ui.showConsoleProgress": "false",
            # Nothing listens beyond loopback; the UI port is not needed by a batch run.
            "spark.ui.enabled": "false",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.sql.session.timeZone": "UTC",
            # dbt-spark turns ANSI mode off for its own statements; the session agrees for everyone else.
            "spark.sql.ansi.enabled": "false",
            # insert_overwrite replaces the months a run builds, not the whole table.
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            "spark.sql.shuffle.partitions": self.shuffle_partitions,
            "spark.driver.memory": self.driver_memory,
            "spark.executor.memory": self.executor_memory,
        }

    def session(self) -> SparkSession:
        """The process's Spark session (its JVM starts on first use, ~30-60 s here)."""
        return _session(self)

    def after_load(self, con: duckdb.DuckDBPyConnection, feed: FeedContract, load: FeedLoad) -> dict[str, str]:
        """The feed's rows and the audit landed in the lake, registered in Spark's catalog."""
        months = land(con, feed, load, self.session(), self.lake)
        return {
            "lake_table": f"spark: {feed.raw_table} ({table_dir(self.lake, *feed.raw_table.split('.'))})",
            "lake_partitions_written": ", ".join(months) or "none (unchanged)",
        }

    def before_dbt(self) -> None:
        self.session()  # started with the lake's catalog before dbt-spark's session method takes it

    def after_dbt(self, connect: Connect, marts: Iterable[ModelTable]) -> list[tuple[str, int]]:
        """The marts the step built on Spark, copied into the working database."""
        with connect() as con:
            return [(mart.name, copy_to_duckdb(self.session(), con, mart.schema, mart.name, mart.columns, mart.comments)) for mart in marts]

    def model_columns(self, con: duckdb.DuckDBPyConnection, tables: Iterable[tuple[str, str]]) -> list[Column]:
        """From Spark's catalog (`con` is not where they are)."""
        catalog = self.session().catalog
        return [
            (table, column.name, column.dataType, column.description)
            for schema, table in tables
            if catalog.tableExists(f"{schema}.{table}")
            for column in catalog.listColumns(f"{schema}.{table}")
        ]

    def where_it_ran(self) -> dict[str, str]:
        """The master and the executors the session had."""
        spark = self.session()
        return {"spark_master": spark.sparkContext.master, "spark_executors": ", ".join(executors(spark))}

    def release_inputs(self, views: list[str]) -> list[str]:
        """All of them: built on Spark, over tables ingest keeps in the working database too."""
        return views

    def models_backend(self, connect: Connect) -> AbstractContextManager[BaseBackend]:
        return _spark_backend(self)


@contextmanager
def _spark_backend(engine: SparkEngine) -> Iterator[BaseBackend]:
    import ibis

    yield ibis.pyspark.connect(engine.session())


@functools.cache
def _session(engine: SparkEngine) -> SparkSession:
    from pyspark.sql import SparkSession

    engine.lake.mkdir(parents=True, exist_ok=True)
    # The driver binds to loopback (Spark would pick the host's outward address and say so).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in engine.session_config().items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def session() -> SparkSession:
    """The session of the Spark engine the settings describe."""
    return SparkEngine().session()


def stop_session() -> None:
    """Stop the process's active session, if any, and forget the sessions started: the next one
    starts with a catalog of its own (another lake)."""
    from pyspark.sql import SparkSession

    if (active := SparkSession.getActiveSession()) is not None:
        active.stop()
    _session.cache_clear()


def executors(spark: SparkSession) -> list[str]:
    """The executors of the session (host:port), the driver left out unless it is the only one
    (a local session runs its tasks in the driver)."""
    context = spark.sparkContext._jsc.sc()
    # The tracker lists block managers: the driver's is at its block manager's port, not spark.driver.port.
    driver_id = context.env().blockManager().blockManagerId()
    driver = f"{driver_id.host()}:{driver_id.port()}"
    found = sorted(f"{info.host()}:{info.port()}" for info in context.statusTracker().getExecutorInfos())
    return [e for e in found if e != driver] or found
