"""Resources: the DuckDB warehouse (working and published files) and dbt."""


import os
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtProject
from pydantic import Field

from orchestration import settings

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
        """A connection to the working database, once no other process holds its lock."""
        con = self._open(read_only)
        try:
            yield con
        finally:
            con.close()

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
        """Point dbt's profile at this warehouse's working database, with this memory limit."""
        return environment({WORKING_DB_ENV: str(self.working_db), MEMORY_LIMIT_ENV: self.duckdb_memory_limit})


# profiles.yml reads these (defaults: ../warehouse/working.duckdb, 600MB).
WORKING_DB_ENV = "DEI_WORKING_DB"
MEMORY_LIMIT_ENV = "DEI_DUCKDB_MEMORY_LIMIT"


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the duration of a block."""
    previous = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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


# dbt's structured events that carry a node's result; dagster-dbt turns them into Dagster events.
RESULT_EVENTS = frozenset({"LogModelResult", "LogSeedResult", "LogSnapshotResult", "LogTestResult"})


@dataclass
class DbtBuild:
    """What one dbt invocation produced: Dagster events for every node that finished, and why
    the invocation failed, if it did."""

    events: list
    failure: str | None

    def raise_on_failure(self) -> None:
        if self.failure:
            raise dg.Failure(description=self.failure)


class DbtCoreResource(dg.ConfigurableResource):
    """dbt Core, run inside the Dagster process.

    A dbt subprocess per step costs ~6 s of imports here, plus a parse of the project, a full one
    whenever the month vars change. In process, the project is parsed once per process and every
    invocation reuses that manifest.
    """

    project_dir: str
    profiles_dir: str

    def build(self, context: dg.AssetExecutionContext, args: list[str], target_path: Path) -> DbtBuild:
        """Run `dbt <args>` on the context's selection (as dagster-dbt would select it)."""
        from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
        from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_dict

        args, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context, {}, DagsterDbtTranslator(), runtime_selects=selects, runtime_excludes=excludes
        )
        # dagster-dbt switches to a generated selectors file past 200 nodes; a parsed manifest
        # cannot take that file, and this project is far below it.
        if "--selector" in params.selection_args:
            raise dg.Failure("The dbt selection is too large for a selection on the command line.")
        indirect = ["--indirect-selection", params.indirect_selection] if params.indirect_selection else []
        results: list[dict] = []

        def keep_result(event) -> None:
            if event.info.name in RESULT_EVENTS:
                results.append(msg_to_dict(event))

        runner = dbtRunner(manifest=self.manifest(), callbacks=[keep_result])
        try:
            outcome = runner.invoke([*args, *params.selection_args, *indirect, *_dbt_args(self.project_dir, self.profiles_dir, target_path)])
        finally:
            close_dbt_connections()
        events = [
            event
            for raw in results
            for event in DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={}).to_default_asset_events(
                manifest=params.manifest,
                dagster_dbt_translator=params.dagster_dbt_translator,
                context=context,
                target_path=target_path,
                project=params.dbt_project,
            )
        ]
        return DbtBuild(events, None if outcome.success else _failure(outcome))

    def manifest(self):
        """The parsed project (dbt's objects), once per process."""
        return _parsed_manifest(self.project_dir, self.profiles_dir)


def _dbt_args(project_dir: str, profiles_dir: str, target_path: Path) -> list[str]:
    return [
        "--project-dir", project_dir, "--profiles-dir", profiles_dir,
        "--target-path", str(target_path), "--log-path", str(target_path),
        "--quiet", "--no-send-anonymous-usage-stats",
    ]  # fmt: skip


@cache
def _parsed_manifest(project_dir: str, profiles_dir: str):
    from dbt.cli.main import dbtRunner

    # The project's own target dir, where `make` keeps dbt's partial-parse state fresh: an
    # unchanged project then loads in well under a second. No manifest.json is written, so
    # processes parsing at once (test workers, a UI reading it) never see it half-written.
    # That state is keyed on the profile's connection, the database path included: parse with the
    # profile's defaults, as `make` does (the manifest names the database "working" either way).
    with environment({WORKING_DB_ENV: None, MEMORY_LIMIT_ENV: None}):
        outcome = dbtRunner().invoke(["parse", *_dbt_args(project_dir, profiles_dir, Path(project_dir) / "target"), "--no-write-json"])
    if not outcome.success:
        raise dg.Failure(f"dbt could not parse {project_dir}: {outcome.exception}")
    return outcome.result


def _failure(outcome) -> str:
    """Which nodes failed and why, from dbt's own results."""
    if outcome.exception is not None:
        return f"dbt failed: {outcome.exception}"
    failed = [r for r in outcome.result.results if str(r.status) in ("error", "fail", "runtime error")]
    lines = [f"{r.node.resource_type} {r.node.name}: {r.status}: {r.message}" for r in failed]
    return "dbt reported failures:\n" + "\n".join(lines or ["(no failed node named)"])


def close_dbt_connections() -> None:
    """dbt-duckdb keeps its DuckDB connection for the life of the process; close it after each
    invocation, so the warehouse file is free for the next step (read-only readers included)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager.close_all_connections()


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
        ),
        "dbt": DbtCoreResource(project_dir=str(settings.DBT_PROJECT_DIR), profiles_dir=str(settings.DBT_PROJECT_DIR)),
    }
