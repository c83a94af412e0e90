"""Failures that are not the data's: locks held outside Dagster, damaged files, full or read-only disks."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._utils.error import SerializableErrorInfo

from orchestration.cli.report import failure_cause, failure_report
from orchestration.defs.dbt import dbt_marts
from orchestration.defs.resources import WarehouseResource
from orchestration.serving.publish import publish
from orchestration.settings import REPO_ROOT
from tests.conftest import SAMPLE_SOURCES, run_pipeline

HOLD_LOCK = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(float(sys.argv[2])); con.close(); print(time.time(), flush=True)"
HEADLINE_SQL = (
    "SELECT obs_value FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES_GROWTH_VS_BASE' "
    "AND ref_area = 'ID' AND size_class = '_T' AND breakdown = '_T' AND time_period = '2020-04'"
)


@contextmanager
def lock_held(db: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process with `db` open for writing for `seconds`; once it lets go it prints when."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def built_warehouse(sample_run, target: Path, published: bool = True) -> Path:
    """A private copy of the sample run's warehouse, for a test to lock or damage."""
    _, warehouse = sample_run
    target.mkdir()
    shutil.copy(warehouse.working_db, target / warehouse.working_db.name)
    if published:
        shutil.copy(warehouse.published_db, target / warehouse.published_db.name)
    return target


@pytest.mark.integration
def test_dbt_steps_wait_for_a_lock_held_outside_dagster(defs, sample_run, tmp_path):
    warehouse_dir = built_warehouse(sample_run, tmp_path / "wh", published=False)
    with lock_held(warehouse_dir / "working.duckdb", seconds=6) as holder:
        result = run_pipeline(defs, SAMPLE_SOURCES, warehouse_dir, selection=dg.AssetSelection.assets(*dbt_marts.keys), lock_retries=20, lock_retry_seconds=1)
        released = float(holder.stdout.readline())
    assert result.success
    # It waited in place, before dbt started: no step retry, and dbt began once the lock was free.
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    started = json.loads((warehouse_dir / "dbt" / "dbt_marts" / "run_results.json").read_text())["metadata"]["invocation_started_at"]
    assert dt.datetime.fromisoformat(started).timestamp() >= released


@pytest.mark.integration
def test_a_lock_outlasting_the_wait_fails_the_step_naming_its_holder(defs, tmp_path):
    warehouse = WarehouseResource(sources_dir=str(SAMPLE_SOURCES), warehouse_dir=str(tmp_path / "wh"))
    warehouse.warehouse_path.mkdir()
    with lock_held(warehouse.working_db, seconds=120) as holder:
        result = run_pipeline(defs, SAMPLE_SOURCES, warehouse.warehouse_path, selection=dg.AssetSelection.assets(["raw", "provinces"]), lock_retries=2, lock_retry_seconds=0.2)
    assert not result.success
    report = "\n".join(failure_report(result, warehouse))
    assert f'step raw__provinces: _duckdb.IOException: IO Error: Could not set lock on file "{warehouse.working_db}"' in report
    assert f"(PID {holder.pid})" in report and "What to do: another program has the working database open" in report
    assert f"No database has been published yet: {warehouse.published_db}" in report


@pytest.mark.e2e
def test_a_damaged_working_database_is_named_then_rebuilt_by_one_command(sample_run, tmp_path):
    warehouse_dir = built_warehouse(sample_run, tmp_path / "wh")
    working, published = warehouse_dir / "working.duckdb", warehouse_dir / "indicators.duckdb"
    published_before = published.read_bytes()
    with open(working, "r+b") as f:
        f.truncate(100_000)
    (tmp_path / "dagster_home").mkdir()
    env = {**os.environ, "DEI_SOURCES_DIR": str(SAMPLE_SOURCES), "DEI_WAREHOUSE_DIR": str(warehouse_dir), "DAGSTER_HOME": str(tmp_path / "dagster_home")}

    def cli(command: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "orchestration.cli", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True)

    failed = cli("run")
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    summary = failed.stderr.split("\nRun ")[-1]  # the end-of-run report, after Dagster's log
    assert f'Could not read enough bytes from file "{working}"' in summary
    assert "`make rebuild`" in summary and f"The published database was left as it was: {published}" in summary
    assert published.read_bytes() == published_before and working.stat().st_size == 100_000

    rebuilt = cli("rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    [aside] = warehouse_dir.glob("working.moved-*.duckdb")
    assert aside.stat().st_size == 100_000 and f"Moved {working} aside to {aside}" in rebuilt.stdout
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute(HEADLINE_SQL).fetchall() == [(480.0,)]
    con.close()


def error(message: str, cause: SerializableErrorInfo | None = None, context: SerializableErrorInfo | None = None) -> SerializableErrorInfo:
    return SerializableErrorInfo(message, stack=[], cls_name=None, cause=cause, context=context)


STEP_ERROR = 'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "raw__sales":\n'


@pytest.mark.unit
@pytest.mark.parametrize(
    "failure, cause, advice",
    [
        (
            error(STEP_ERROR, error("OSError: [Errno 28] No space left on device: '/wh/.indicators.duckdb.r1.tmp'\n")),
            "OSError: [Errno 28] No space left on device: '/wh/.indicators.duckdb.r1.tmp'",
            "the disk holding /wh is full",
        ),
        (
            error(STEP_ERROR, error('_duckdb.IOException: IO Error: Could not write file "/wh/working.duckdb.wal": No space left on device\n')),
            '_duckdb.IOException: IO Error: Could not write file "/wh/working.duckdb.wal": No space left on device',
            "the disk holding /wh is full",
        ),
        (
            error(STEP_ERROR, error('_duckdb.IOException: IO Error: Cannot open file "/wh/working.duckdb": Read-only file system\n')),
            '_duckdb.IOException: IO Error: Cannot open file "/wh/working.duckdb": Read-only file system',
            "/wh is on a read-only file system",
        ),
        (
            error(STEP_ERROR, error("PermissionError: [Errno 13] Permission denied: '/wh/working.duckdb'\n")),
            "PermissionError: [Errno 13] Permission denied: '/wh/working.duckdb'",
            "this user may not write in /wh",
        ),
        (
            error(
                "dagster._core.definitions.events.Failure: dbt reported failures:\ntest unique_x: error: Runtime Error in test unique_x (models/x.yml)\n"
                "  Corrupt database file: computed checksum 5381 does not match stored checksum 0 in block at location 2633728\n"
            ),
            "Corrupt database file: computed checksum 5381 does not match stored checksum 0 in block at location 2633728",
            "`make rebuild`",
        ),
        (
            error(STEP_ERROR, error('_duckdb.IOException: IO Error: The file "/wh/working.duckdb" exists, but it is not a valid DuckDB database file!\n')),
            '_duckdb.IOException: IO Error: The file "/wh/working.duckdb" exists, but it is not a valid DuckDB database file!',
            "`make rebuild`",
        ),
        # A WAL copied beside working.duckdb from another database (before: no "What to do").
        (
            error(STEP_ERROR, error('_duckdb.IOException: IO Error: Failure while replaying WAL file "/wh/working.duckdb.wal": WAL does not match database file.\n')),
            '_duckdb.IOException: IO Error: Failure while replaying WAL file "/wh/working.duckdb.wal": WAL does not match database file.',
            "is not that database's (copied or left from another file): `make rebuild` moves the working database and that WAL aside",
        ),
        # Found in the exception being handled (context) under a wrapper that names no cause.
        (
            error(
                "Exceeded max_retries of 5\n",
                context=error('IO Error: Could not set lock on file "/wh/working.duckdb": Conflicting lock is held in /usr/bin/python3 (PID 4242). See also https://duckdb.org\n'),
            ),
            'IO Error: Could not set lock on file "/wh/working.duckdb": Conflicting lock is held in /usr/bin/python3 (PID 4242). See also https://duckdb.org',
            "another program has the working database open",
        ),
        # What pyspark raises when Java cannot start (JAVA_HOME wrong, or no java on PATH).
        (
            error(STEP_ERROR, error("pyspark.errors.exceptions.base.PySparkRuntimeError: [JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number.\n")),
            "pyspark.errors.exceptions.base.PySparkRuntimeError: [JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number.",
            "DEI_ENGINE=spark needs Java 17",
        ),
        # What Spark raises when another process holds the lake's Derby catalog.
        (
            error(
                STEP_ERROR,
                error(
                    "pyspark.errors.exceptions.captured.AnalysisException: org.apache.hadoop.hive.ql.metadata.HiveException: "
                    "java.lang.RuntimeException: Unable to instantiate org.apache.hadoop.hive.ql.metadata.SessionHiveMetaStoreClient\n"
                ),
            ),
            "pyspark.errors.exceptions.captured.AnalysisException: org.apache.hadoop.hive.ql.metadata.HiveException: "
            "java.lang.RuntimeException: Unable to instantiate org.apache.hadoop.hive.ql.metadata.SessionHiveMetaStoreClient",
            "another process (a run, a notebook) has it open",
        ),
        # DEI_ENGINE=spark in an install without the spark extra.
        (error(STEP_ERROR, error("ModuleNotFoundError: No module named 'pyspark'\n")), "ModuleNotFoundError: No module named 'pyspark'", "`make run` with the setting installs it"),
        (
            error(STEP_ERROR, error('_duckdb.BinderException: Binder Error: Referenced column "x" not found\n')),
            '_duckdb.BinderException: Binder Error: Referenced column "x" not found',
            None,
        ),
    ],
    ids=["enospc-os", "enospc-duckdb", "erofs", "eacces", "checksum-in-dbt", "not-duckdb", "foreign-wal", "lock", "no-java", "catalog-in-use", "no-spark-extra", "unknown"],
)
def test_failure_cause_is_the_os_or_duckdb_message_with_what_to_do(failure, cause, advice):
    """Read-only and unwritable warehouse dirs are covered here only: the tests run as root, which
    permissions do not stop, and a read-only mount needs privileges the test machine lacks."""
    found, todo = failure_cause(failure, Path("/wh"))
    assert found == cause
    assert todo is None if advice is None else advice in todo


@pytest.mark.integration
@pytest.mark.quick
def test_publishing_removes_what_a_killed_publish_left_wal_included(sample_warehouse, tmp_path):
    # A copy: publishing records the publication in the history database.
    warehouse = WarehouseResource(sources_dir=str(SAMPLE_SOURCES), warehouse_dir=str(sample_warehouse))
    out = tmp_path / "out"
    out.mkdir()
    published = out / "indicators.duckdb"
    left = [out / ".indicators.duckdb.killed-run.tmp", out / ".indicators.duckdb.killed-run.tmp.wal"]
    for path in left:
        path.write_bytes(b"half a publication")
    with warehouse.connect(read_only=True) as con:
        publication = publish(con, published, "next-run", warehouse.history_db)
    assert not [p for p in left if p.exists()]
    assert sorted(p.name for p in out.iterdir()) == ["indicators.duckdb"]
    assert publication.tables["marts.indicators"] > 0
