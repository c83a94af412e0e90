"""Monthly partitions, incremental models, the landing sensor, the schedule, pools and freshness."""

import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
import yaml

from orchestration import settings
from orchestration.defs.dbt import RELEASES, models_in_layer
from orchestration.defs.freshness import sales_staleness
from orchestration.defs.partitions import WAREHOUSE_POOL, months_landed
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.sensors import landing_sensor
from tests.conftest import SAMPLE_SOURCES, run_pipeline

MONTHS = ["2020-01", "2020-02"]


@pytest.fixture
def two_months(tmp_path) -> Path:
    """The sample landing zone with the monthly feeds cut down to two months."""
    root = tmp_path / "sources"
    shutil.copytree(SAMPLE_SOURCES, root)
    for path in [*root.glob("sales/*"), *root.glob("onboarding/*.csv")]:
        if not any(month in path.name for month in MONTHS):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert months_landed(root) == MONTHS
    return root


# The release step's marts carry each warehouse's own history (its releases and their times).
HISTORY = {key.path[-1] for key in models_in_layer(RELEASES)}


def marts(warehouse: Path) -> dict[str, list]:
    con = duckdb.connect(str(warehouse / "working.duckdb"), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1").fetchall() if t not in HISTORY]
        return {t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall() for t in tables}
    finally:
        con.close()


@pytest.mark.integration
def test_months_one_by_one_give_the_marts_of_one_full_run(defs, two_months, tmp_path):
    full = run_pipeline(defs, two_months, tmp_path / "full")
    assert full.success
    for month in MONTHS:
        assert run_pipeline(defs, two_months, tmp_path / "monthly", partition_key=f"{month}-01").success
    by_month = marts(tmp_path / "monthly")
    assert by_month == marts(tmp_path / "full")
    assert len(by_month["online_sales_monthly"]) > 0 and {r[0].strftime("%Y-%m") for r in by_month["online_sales_monthly"]} == set(MONTHS)

    # Re-materializing a month changes nothing; its files are unchanged, its rows replaced by the same.
    again = run_pipeline(defs, two_months, tmp_path / "monthly", partition_key="2020-01-01")
    assert again.success
    assert marts(tmp_path / "monthly") == by_month
    partitions = {e.partition for e in again.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw/sales"}
    assert partitions == {"2020-01-01"}

    # A full refresh (the ops' config switch) rebuilds the incremental models from every row: the same marts.
    refresh = {"ops": {op: {"config": {"full_refresh": True}} for op in ("dbt_monthly", "dbt_marts")}}
    refreshed = run_pipeline(defs, two_months, tmp_path / "monthly", partition_key="2020-02-01", run_config=refresh)
    assert refreshed.success
    assert marts(tmp_path / "monthly") == by_month


@pytest.mark.integration
def test_a_month_run_reads_only_that_months_files(defs, two_months, tmp_path):
    selection = dg.AssetSelection.assets(["raw", "provinces"], ["raw", "sales"])
    result = run_pipeline(defs, two_months, tmp_path / "wh", selection=selection, partition_key="2020-02-01")
    assert result.success
    con = duckdb.connect(str(tmp_path / "wh" / "working.duckdb"), read_only=True)
    files = [f for (f,) in con.execute("SELECT DISTINCT source_file FROM audit.file_loads WHERE feed = 'sales' ORDER BY 1").fetchall()]
    con.close()
    assert files and all(f.startswith("sales/2020-02/") for f in files)


def sensor_context(defs, sources: Path, cursor: str | None = None):
    return dg.build_sensor_context(
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        resources={"warehouse": WarehouseResource(sources_dir=str(sources), warehouse_dir=str(sources.parent / "wh"))},
    )


def evaluate(defs, sources: Path, cursor: str | None):
    context = sensor_context(defs, sources, cursor)
    result = landing_sensor(context)
    return result, context.cursor


@pytest.mark.unit
def test_the_sensor_requests_runs_for_changed_content_only(defs, two_months):
    first, cursor = evaluate(defs, two_months, None)
    assert isinstance(first, dg.SkipReason)  # the first look records, it does not replay history

    new = two_months / "sales" / "2020-03" / "pasar_a.csv"
    new.parent.mkdir()
    shutil.copy(two_months / "sales" / "2020-02" / "pasar_a.csv", new)
    new.write_text(new.read_text().replace("2020-02-", "2020-03-"))
    (two_months / "onboarding" / "2020-01.csv").touch()  # same bytes, new time: nothing to do
    requests, cursor = evaluate(defs, two_months, cursor)
    assert [r.partition_key for r in requests] == ["2020-03-01"]
    selected = {k.to_user_string() for k in requests[0].asset_selection}
    assert "raw/sales" in selected and "raw/onboarding" not in selected and "published/indicators_db" in selected

    assert isinstance(evaluate(defs, two_months, cursor)[0], dg.SkipReason)  # restart with the cursor: no replay

    population = two_months / "population" / "umkm_population_2020.csv"
    population.write_text(population.read_text().replace("Sumber", "Sumber (revisi)"))
    (two_months / "onboarding" / "2020-02.csv").unlink()
    requests, _ = evaluate(defs, two_months, cursor)
    assert [r.partition_key for r in requests] == ["2020-02-01", None]
    unpartitioned = {k.to_user_string() for k in requests[1].asset_selection}
    assert "raw/population" in unpartitioned and "raw/sales" not in unpartitioned and "marts/onboarding_rate" in unpartitioned


@pytest.mark.unit
def test_the_schedule_runs_the_previous_month_in_jakarta_time(defs):
    jakarta = ZoneInfo("Asia/Jakarta")
    schedule = defs.get_repository_def().get_schedule_def("monthly_schedule")

    def tick(*when):
        context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(*when, tzinfo=jakarta), repository_def=defs.get_repository_def())
        return schedule.evaluate_tick(context)

    assert [r.partition_key for r in tick(2020, 7, 5, 6, 0).run_requests] == ["2020-06-01"]
    # After the sample's declared reporting period (2019-01..2020-12) there is no month to run.
    after = tick(2021, 2, 5, 6, 0)
    assert not after.run_requests and "reporting period 2019-01..2020-12" in after.skip_message
    assert schedule.cron_schedule == "0 6 5 * *" and schedule.execution_timezone == "Asia/Jakarta"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "monthly_job"


@pytest.mark.unit
def test_every_warehouse_writer_is_in_the_pool_of_one(defs):
    # Every asset with a step (the load audit is a view the raw assets write, with no step of its own).
    steps = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    writers = [a for a in steps if not any(k.path[0] == "published" and k.path[1] in ("exports", "report") for k in a.keys)]
    assert writers and all(a.op.pool == WAREHOUSE_POOL for a in writers)
    assert all(c.op.pool == WAREHOUSE_POOL for c in defs.asset_checks)
    config = yaml.safe_load((settings.REPO_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


@pytest.mark.integration
def test_a_lock_held_outside_dagster_makes_the_step_wait(defs, tmp_path):
    warehouse = tmp_path / "wh"
    warehouse.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(warehouse / 'working.duckdb')!r}); print('locked', flush=True); time.sleep(3)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    result = run_pipeline(defs, SAMPLE_SOURCES, warehouse, selection=dg.AssetSelection.assets(["raw", "provinces"]))
    holder.wait()
    assert result.success
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert not retries and time.monotonic() - started >= 3  # waited in place, not retried


@pytest.mark.unit
@pytest.mark.parametrize(
    "newest, today, passed",
    [(dt.date(2020, 12, 31), dt.date(2021, 1, 20), True), (dt.date(2020, 12, 31), dt.date(2021, 3, 1), False), (None, dt.date(2021, 1, 1), False)],
)
def test_sales_freshness(newest, today, passed):
    ok, description = sales_staleness(newest, today, 45)
    assert ok is passed and ("2020-12" in description or newest is None)
