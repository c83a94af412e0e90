"""Resources: the DuckDB warehouse (working and published files, and the engine the models are built
on) and dbt (run in process: dbt_runner.py)."""

import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from dagster_dbt import DbtProject
from pydantic import Field

from orchestration import settings
from orchestration.defs.dbt_runner import DbtCoreResource, environment
from orchestration.engines import Engine, engine_named

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

# What DuckDB says when another process holds the file's lock; the rest of its message names it.
LOCK_ERROR = "Could not set lock on file"
LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")
# How long an opener waits for a lock held outside Dagster: up to 5 retries, 5 s apart.
LOCK_RETRIES = 5
LOCK_RETRY_SECONDS = 5.0


class WarehouseLocked(Exception):
    """The working database stayed locked by another process for the whole lock policy."""


class WarehouseResource(dg.ConfigurableResource):
    """Where feeds are read and DuckDB files written.

    The pipeline writes only `working.duckdb`; BI tools read `indicators.duckdb`, which the
    publish asset replaces atomically after a run whose blocking checks passed.
    """

    sources_dir: str
    warehouse_dir: str
    max_quarantined_share: float = Field(
        default=settings.DEFAULT_MAX_QUARANTINED_SHARE,
        description="A landed file with a larger share of its rows quarantined fails its raw asset's blocking check.",
    )
    duckdb_memory_limit: str = Field(
        default=settings.DEFAULT_DUCKDB_MEMORY_LIMIT,
        description="DuckDB's memory limit (e.g. 600MB) for the run's connections, dbt's included; beyond it DuckDB spills to disk.",
    )
    lock_retries: int = Field(
        default=LOCK_RETRIES,
        description="While another process holds the working database's lock, open it again this many times before the step fails.",
    )
    lock_retry_seconds: float = Field(default=LOCK_RETRY_SECONDS, description="Seconds between those attempts.")
    engine: str = Field(
        default=settings.ENGINE.default,
        description="Where dbt builds the models: duckdb (the working database) or spark (a Spark session, the raw layer a Parquet lake). Publishing is DuckDB's on both.",
    )
    lake_dir: str | None = Field(default=None, description="On Spark: the lake (raw Parquet, managed tables, catalog); unset, the settings'.")
    spark_master: str | None = Field(default=None, description="On Spark: local[N] or a standalone master's spark:// URL; unset, the settings'.")

    @property
    def run_engine(self) -> Engine:
        """The engine the run's models are built on, with its hooks (SettingsError for an unknown one)."""
        return engine_named(self.engine, lake=Path(self.lake_dir).resolve() if self.lake_dir else None, master=self.spark_master)

    @property
    def sources_path(self) -> Path:
        return Path(self.sources_dir).resolve()

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse_dir).resolve()

    @property
    def working_db(self) -> Path:
        return self.warehouse_path / settings.WORKING_DB_NAME

    @property
    def published_db(self) -> Path:
        return self.warehouse_path / settings.PUBLISHED_DB_NAME

    @property
    def history_db(self) -> Path:
        """Every release's observations and meta.releases; a rebuild of the working database keeps it."""
        return self.warehouse_path / settings.HISTORY_DB_NAME

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the working database, once no other process holds its lock."""
        con = self._open(read_only)
        try:
            yield con
        finally:
            con.close()

    def models_backend(self, engine: Engine | None = None) -> AbstractContextManager["BaseBackend"]:
        """An engine holding dbt models' tables (default: the run's), through ibis, for Pandera: the
        working database, read-only, or Spark's session."""
        return (engine or self.run_engine).models_backend(self.connect)

    def wait_until_free(self) -> None:
        """Return once this process could write the working database (dbt, which opens it
        itself, fails at once on a lock held elsewhere)."""
        self._open(read_only=False).close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        self.working_db.parent.mkdir(parents=True, exist_ok=True)
        # Within Dagster the warehouse pool keeps steps apart; this waits out a BI tool, a duckdb
        # CLI or a notebook that has the file open.
        retry = 0
        while True:
            try:
                return duckdb.connect(str(self.working_db), read_only=read_only, config={"memory_limit": self.duckdb_memory_limit})
            except duckdb.IOException as error:
                if LOCK_ERROR not in str(error):
                    raise
                match = LOCK_HOLDER.search(str(error))
                holder = f"{match[1]} (PID {match[2]})" if match else "another process"
                total = self.lock_retries * self.lock_retry_seconds
                if retry == self.lock_retries:
                    raise WarehouseLocked(
                        f"{self.working_db} is still locked by {holder} after {total:g} s. Close that program (a duckdb CLI, "
                        f"a notebook or a BI tool with it open; BI tools should open {self.published_db.name} read-only "
                        "instead) or let it finish, then run again."
                    ) from error
                if retry == 0:
                    dg.get_dagster_logger().warning(f"{self.working_db} is locked by {holder}; waiting up to {total:g} s for it.")
                time.sleep(self.lock_retry_seconds)
                retry += 1

    @property
    def exports_dir(self) -> Path:
        return self.warehouse_path / "exports"

    @property
    def reports_dir(self) -> Path:
        return self.warehouse_path / "reports"

    def dbt_target_path(self, step: str) -> Path:
        """A dbt target dir per step and warehouse: run results and logs of the latest run."""
        return self.warehouse_path / "dbt" / step

    def dbt_environment(self) -> AbstractContextManager[None]:
        """Point dbt's profile at this warehouse's working and history databases, with this memory limit."""
        return environment(
            {settings.WORKING_DB.name: str(self.working_db), settings.HISTORY_DB.name: str(self.history_db), settings.DUCKDB_MEMORY_LIMIT.name: self.duckdb_memory_limit}
        )


@contextmanager
def retry_if_locked(retries: int = LOCK_RETRIES, seconds: float = LOCK_RETRY_SECONDS) -> Iterator[None]:
    """Turn a lock error from a library that opens the file itself (dbt) into a step retry after
    a pause; openers through `WarehouseResource.connect` wait in place instead."""
    try:
        yield
    except Exception as error:
        if LOCK_ERROR in str(error):
            raise dg.RetryRequested(max_retries=retries, seconds_to_wait=seconds) from error
        raise


@cache
def dbt_project() -> DbtProject:
    # `make` (re)builds the manifest whenever a dbt file changes, with this environment's dbt;
    # dagster-dbt's own preparation would look for `dbt` on PATH instead.
    return DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(
            sources_dir=str(settings.sources_dir()),
            warehouse_dir=str(settings.warehouse_dir()),
            max_quarantined_share=settings.max_quarantined_share(),
            duckdb_memory_limit=settings.duckdb_memory_limit(),
            engine=settings.ENGINE.value(),
            lake_dir=str(settings.lake_dir()),
            spark_master=settings.spark_master(),
        ),
        "dbt": DbtCoreResource(project_dir=str(settings.DBT_PROJECT_DIR), profiles_dir=str(settings.DBT_PROJECT_DIR)),
    }
