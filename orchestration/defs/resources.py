"""Resources: the DuckDB warehouse (working and published files) and the dbt CLI."""


import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version
from pydantic import Field

from orchestration import settings


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

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self.working_db.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.working_db), read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    @property
    def exports_dir(self) -> Path:
        return self.warehouse_path / "exports"

    @property
    def reports_dir(self) -> Path:
        return self.warehouse_path / "reports"

    def dbt_target_path(self, step: str) -> Path:
        """A stable dbt target dir per step and warehouse, so dbt's partial parse survives runs."""
        return self.warehouse_path / "dbt" / step

    @contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """Point dbt's profile at this warehouse's working database for one invocation."""
        previous = os.environ.get("DEI_WORKING_DB")
        os.environ["DEI_WORKING_DB"] = str(self.working_db)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("DEI_WORKING_DB", None)
            else:
                os.environ["DEI_WORKING_DB"] = previous


# What DuckDB says when another process holds the file's write lock.
LOCK_ERROR = "Could not set lock on file"


@contextmanager
def retry_if_locked(attempts: int = 5, seconds: int = 5) -> Iterator[None]:
    """Turn a lock held by something outside Dagster (a BI tool writing, a stray CLI) into a step
    retry after a pause; within Dagster, the warehouse pool already keeps writers apart."""
    try:
        yield
    except Exception as error:
        if LOCK_ERROR in str(error):
            raise dg.RetryRequested(max_retries=attempts, seconds_to_wait=seconds) from error
        raise


class IndicatorDbtCliResource(DbtCliResource):
    """The dbt CLI of this environment.

    dagster-dbt asks the executable for its version (`dbt --version`, ~5 s of imports here) once
    per run; the executable is this environment's own, so the installed package answers instead.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))


@cache
def dbt_project() -> DbtProject:
    # `make` (re)builds the manifest whenever a dbt file changes, with this environment's dbt;
    # dagster-dbt's own preparation would look for `dbt` on PATH instead.
    return DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The environment's own dbt: Dagster may run without the environment on PATH."""
    return str(Path(sys.executable).parent / "dbt")


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(
            sources_dir=str(settings.sources_dir()),
            warehouse_dir=str(settings.warehouse_dir()),
            max_quarantined_share=settings.max_quarantined_share(),
        ),
        "dbt": IndicatorDbtCliResource(
            project_dir=dbt_project(), profiles_dir=str(settings.DBT_PROJECT_DIR), dbt_executable=dbt_executable()
        ),
    }
