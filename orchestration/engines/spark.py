"""The Spark session of a run on `DEI_ENGINE=spark`: one per process, shared by dbt (dbt-spark's
`session` method takes the active session), the lake's registration and Pandera (ibis on it).

Imported only on Spark: pyspark and its JVM are not loaded by a DuckDB run.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration import settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark's own catalog of the databases dbt builds into and the raw tables of the lake; one
# process owns it at a time (an embedded Derby database), as the warehouse pool already ensures.
METASTORE = "metastore_db"
# Managed tables (the models dbt builds) live beside the raw layer, on the storage executors read.
MANAGED_TABLES = "warehouse"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


def session_config(lake: Path, master: str) -> dict[str, str]:
    """The session's settings: the catalog and managed tables in the lake, at absolute paths
    (by default Spark puts its catalog in the working directory: two processes, two catalogs)."""
    return {
        "spark.master": master,
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
        # The default 200 shuffle partitions are 200 tasks per aggregate for a few thousand rows.
        "spark.sql.shuffle.partitions": os.environ.get("DEI_SPARK_SHUFFLE_PARTITIONS") or "4",
        "spark.driver.memory": os.environ.get("DEI_SPARK_DRIVER_MEMORY") or "1g",
        "spark.executor.memory": os.environ.get("DEI_SPARK_EXECUTOR_MEMORY") or "1g",
    }


@functools.cache
def session() -> SparkSession:
    """The process's Spark session (its JVM starts on first use, ~30-60 s here)."""
    from pyspark.sql import SparkSession

    lake = settings.lake_dir()
    lake.mkdir(parents=True, exist_ok=True)
    # The driver binds to loopback (Spark would pick the host's outward address and say so).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in session_config(lake, settings.spark_master()).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def executors(spark: SparkSession) -> list[str]:
    """The executors of the session (host:port), the driver left out unless it is the only one
    (a local session runs its tasks in the driver)."""
    context = spark.sparkContext._jsc.sc()
    # The tracker lists block managers: the driver's is at its block manager's port, not spark.driver.port.
    driver_id = context.env().blockManager().blockManagerId()
    driver = f"{driver_id.host()}:{driver_id.port()}"
    found = sorted(f"{info.host()}:{info.port()}" for info in context.statusTracker().getExecutorInfos())
    return [e for e in found if e != driver] or found
