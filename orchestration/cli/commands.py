"""`make run`: materialize every asset into the Dagster instance, then print the headline indicators;
`make rebuild`: the same after moving the working database aside; `make audit`: the last run's
load audit and quarantined rows."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb

from orchestration.cli import report
from orchestration.cli.report import EXIT_STATUS
from orchestration.ingest.audit import RunSummary, run_summary


def _release_abandoned_runs(instance) -> None:
    """A `make run` killed outright (kill -9) leaves its run STARTED, holding the warehouse pool's
    slot; mark it failed and free the slot, so the next run does not wait for it forever."""
    import dagster as dg

    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={"dei/cli": "run"})):
        run = record.dagster_run
        try:
            os.kill(int(run.tags["dei/pid"]), 0)
            continue  # still running
        except (ProcessLookupError, KeyError, ValueError):
            pass
        instance.report_run_failed(run, "Its process is gone (killed before it could finish).")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


@contextlib.contextmanager
def stderr_to(log: Path) -> Iterator[None]:
    """Everything written to stderr (Dagster's console log, dbt's, warnings) goes to `log` instead."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "w") as target:
        os.dup2(target.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def run(confirmed: list[str] | None = None) -> int:
    """`make run`; `confirmed`: the landed files whose held change (see the summary) is to be made."""
    from orchestration import settings
    from orchestration.cli.fingerprint import inputs_fingerprint, record_run, unchanged_run

    started = time.monotonic()
    # Answered before Dagster and dbt are imported: with nothing changed there is nothing to do.
    warehouse_dir = settings.warehouse_dir()
    working_db, published_db = warehouse_dir / settings.WORKING_DB_NAME, warehouse_dir / settings.PUBLISHED_DB_NAME
    try:
        fingerprint = inputs_fingerprint(settings.sources_dir())
    except settings.SettingsError as error:
        return report.print_settings_failure(error, published_db)
    if not confirmed and (last := unchanged_run(working_db, published_db, fingerprint)) is not None:
        return report.print_unchanged(last, working_db, published_db, started)

    print("Loading Dagster and dbt ...", flush=True)
    result, warehouse = _execute(confirmed)
    print()
    summary = _run_summary(warehouse, result.run_id)
    if report.published(result):
        with warehouse.connect() as con:
            record_run(con, result.run_id, fingerprint)
    return report.print_run(result, warehouse, summary, started)


def _execute(confirmed: list[str] | None):
    """The run of the job, every landed month at once, executed here; its steps print as they go.
    Returns the run's result and the warehouse resource."""
    import dagster as dg

    from orchestration import progress
    from orchestration.cli import launch
    from orchestration.definitions import defs
    from orchestration.defs.partitions import all_months_tags
    from orchestration.defs.raw import CONFIRM_TAG

    if sys.stdout.isatty():
        progress.show = report.progress_bar
    warehouse = defs.resources["warehouse"]
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance:
        _release_abandoned_runs(instance)
        # Dagster's console log (stack traces included) goes to a file: the terminal gets the steps,
        # then the summary and, for a failure, its cause.
        log = Path(instance.root_directory) / "logs" / f"{run_id}.log"
        print(f"Materializing every asset (Dagster instance: {instance.root_directory}; its log: {log})", flush=True)
        instance.add_event_listener(run_id, report.StepProgress())
        with stderr_to(log):
            # A run of the job in its code location (the UI lists it under the job), executed here.
            result = launch.execute(
                instance,
                "indicators_job",
                run_id,
                # Every landed month in one run (a single-run backfill of the monthly partitions).
                tags={
                    **all_months_tags(warehouse.sources_path),
                    "dei/cli": "run",
                    "dei/pid": str(os.getpid()),
                    **({CONFIRM_TAG: json.dumps(sorted(confirmed))} if confirmed else {}),
                },
                run_config={"loggers": {"console": {"config": {"log_level": "DEBUG"}}}},
            )
    return result, warehouse


def _run_summary(warehouse, run_id: str) -> RunSummary | None:
    """The run's load summary, from the working database; None when the run left none to read."""
    from orchestration.defs.resources import WarehouseLocked

    if not warehouse.working_db.exists():
        return None
    try:
        with warehouse.connect(read_only=True) as con:
            return run_summary(con, run_id)
    except (duckdb.Error, WarehouseLocked):
        return None  # the run failed on the same: the failure report says why and what to do


def move_aside(working_db: Path) -> list[tuple[Path, Path]]:
    """Rename the working database and its WAL to a timestamped name beside them (an unreadable
    file is never deleted: it may be needed to find out what happened)."""
    aside = working_db.with_name(f"{working_db.stem}.moved-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}{working_db.suffix}")
    moves = [(working_db, aside), (working_db.with_name(working_db.name + ".wal"), aside.with_name(aside.name + ".wal"))]
    moved = [(source, target) for source, target in moves if source.exists()]
    for source, target in moved:
        source.rename(target)
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli", description=__doc__, epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "rebuild", "report", "audit"])
    parser.add_argument(
        "--confirm",
        action="append",
        default=[],
        metavar="SOURCE_FILE",
        help="make the held-back change to this landed file (as the summary names it, e.g. sales/2020-07/pasar_a.csv): "
        "load its resend with far fewer rows, or remove the rows of a file gone under a symbolic link; repeatable",
    )
    parser.add_argument("--run-id", help="audit: the run whose loads to show (default: the last run that loaded)")
    parser.add_argument("--limit", type=int, default=20, help="audit: quarantined rows shown per feed")
    args = parser.parse_args()
    from orchestration import settings

    if args.command == "audit":
        from orchestration.cli.audit_report import audit_report

        print("\n".join(audit_report(settings.warehouse_dir() / settings.WORKING_DB_NAME, args.run_id, args.limit)))
        return

    if args.command == "rebuild":
        working_db = settings.warehouse_dir() / settings.WORKING_DB_NAME
        moved = move_aside(working_db)
        for source, target in moved:
            print(f"Moved {source} aside to {target} (delete it once it is no longer needed).")
        if not moved:
            print(f"No {working_db} to move aside.")
    if args.command in ("run", "rebuild"):
        sys.exit(run(args.confirm))
    print(report.headline_report(settings.warehouse_dir() / settings.PUBLISHED_DB_NAME))
