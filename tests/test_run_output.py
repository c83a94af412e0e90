"""What `make run` prints: each step as it starts and ends, then the summary with every warning,
and none of Dagster's own log (which goes to a file in the instance)."""

import os
import re
import shutil
import subprocess
import sys

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from orchestration import settings
from tests.conftest import FIXTURES, SAMPLE_SOURCES, land
from tests.test_completeness import observations

pytestmark = pytest.mark.e2e

STEP = r"[0-9]{2}:[0-9]{2}:[0-9]{2}  "


def test_make_run_shows_its_steps_then_every_warning(tmp_path):
    # The sample as a production landing zone (no declared reporting period): judged against today,
    # its sales (ending 2020-12) are stale, and the freshness check warns.
    sources = tmp_path / "sources"
    shutil.copytree(SAMPLE_SOURCES, sources, ignore=shutil.ignore_patterns(settings.REPORTING_PERIOD_FILE))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DEI_SOURCES_DIR": str(sources), "DEI_WAREHOUSE_DIR": str(tmp_path / "warehouse"), "DAGSTER_HOME": str(home)}
    run = subprocess.run([sys.executable, "-m", "orchestration.cli", "run"], cwd=settings.REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert run.stderr == ""

    # Each step as it starts, then as it ends, with its time, what it wrote and its checks.
    assert re.search(rf"^{STEP}raw__sales \.\.\.\n{STEP}raw__sales done in [0-9.]+ s: raw/sales 59,998 rows loaded; 1 check passed$", out, re.M), out
    assert re.search(rf"^{STEP}dbt_marts done in [0-9.]+ s: [0-9]+ assets; [0-9]+ checks passed$", out, re.M), out
    for step in ("raw__onboarding", "dbt_monthly", "completeness", "published__indicators_db"):
        assert re.search(rf"^{STEP}{step} \.\.\.$", out, re.M) and re.search(rf"^{STEP}{step} done in ", out, re.M), step
    # Then the summary, with every warning in one line, before the headline table.
    summary = out.split("\n\nLanded files: ")[1]
    assert re.search(r"^Checks: ([0-9]+) of \1 passed\.$", summary, re.M) is None  # one did not
    warnings = [line for line in summary.splitlines() if line.startswith("  WARN ")]
    assert len(warnings) == 1 and re.fullmatch(r"  WARN raw/sales:sales_freshness: the newest sales month is 2020-12, which ended [0-9]+ days ago \(allowed: 45\)", warnings[0]), (
        warnings
    )
    assert summary.index("  WARN ") < summary.index("Headline indicators")
    # Under the headline's title, the origin of its figures: the sample's are synthetic, and it says so.
    assert re.search(
        r"^Headline indicators, Indonesia, the latest 12 months: 2020-01 to 2020-12 \(published .*\)\n"
        r"Origin: Synthetic sample, not official statistics\. Source: Synthetic sample \(orchestration/samplegen\.py\), "
        r"calibrated to a news report on UMKM going digital of 5 October 2020\nmonth ",
        summary,
        re.M,
    ), summary
    assert "Reporting period" not in out

    # Dagster's log is not in the terminal but in the file named at the start.
    assert " - dagster - " not in out
    (log,) = re.findall(r"its log: (\S+\.log)\)", out)
    assert log.startswith(str(home)) and "STEP_START" in open(log).read()

    # The run belongs to its job in the workspace's code location, as one launched from the UI: the
    # job's Runs tab, the timeline and the asset pages find it by this origin and its label tag.
    (run_id,) = re.findall(r"^Run (\S+) succeeded in", out, re.M)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        stored = instance.get_run_by_id(run_id)
        origin = stored.remote_job_origin
        assert (stored.job_name, origin.job_name) == ("indicators_job", "indicators_job")
        assert (origin.repository_origin.code_location_origin.location_name, origin.repository_origin.repository_name) == ("indicators", "__repository__")
        assert origin.repository_origin.code_location_origin.loadable_target_origin.module_name == "orchestration.definitions"
        assert stored.job_code_origin is not None
        by_job = instance.get_runs(dg.RunsFilter(job_name="indicators_job", tags={REPOSITORY_LABEL_TAG: "__repository__@indicators"}))
        assert [r.run_id for r in by_job] == [run_id]
        materialization = instance.get_latest_materialization_event(dg.AssetKey(["marts", "onboarding_rate"]))
        assert materialization.run_id == run_id


def cli_run(tmp_path, sources):
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(settings.REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DEI_SOURCES_DIR": str(sources), "DEI_WAREHOUSE_DIR": str(tmp_path / "warehouse"), "DAGSTER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "orchestration.cli", "run"], cwd=settings.REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_a_run_that_rejected_files_publishes_with_exit_status_3_and_says_so_again_while_they_stay(tmp_path, published):
    """`make run` with four files it must reject beside the sample: one whose quote never closes,
    and three under sales/2018-12, 2020-13 and 2031-05, months that cannot hold data. Each is named
    with its reason and in the audit, the exit status is 3 (published, with rejected files), and a
    fresh warehouse publishes exactly the sample's indicators."""
    sources = tmp_path / "sources"
    shutil.copytree(SAMPLE_SOURCES, sources)
    dates = land(FIXTURES / "landing_dates", sources)
    part = sources / "sales" / "2020-04" / "pasar_a__part2.csv"
    part.write_text(
        "sale_date,platform,merchant_id,province_code,size_class,orders,gross_sales_idr\n"
        '2020-04-01,pasar_a,"A9000001,35,MIKRO,1,100.00\n2020-04-01,pasar_a,A9000002,35,MIKRO,1,100.00\n'
    )
    reason = (
        'rejected sales/2020-04/pasar_a__part2.csv: line 2 opens a quoted field (`"`) that is never closed, so the rest of '
        "the file would be one field; the CSV reader returned 0 rows and stopped there. Close or remove that quote and land the file again"
    )

    first = cli_run(tmp_path, sources)

    # Before: exit status 0, as for a clean run.
    assert first.returncode == 3, first.stderr[-3000:]
    assert "Landed files: 129 loaded, 0 unchanged, 4 rejected; 73,934 rows loaded, 0 quarantined." in first.stdout
    assert f"  {reason}" in first.stdout.splitlines()
    for rel in dates:
        assert f"rejected {rel}: month " in first.stdout
    assert re.search(r"^Run \S+ published in [0-9.]+ s without the rows landed in 4 rejected and 0 held-back file\(s\) \(exit status 3\)", first.stdout, re.M)
    assert "2020-04           11.60    +141.7" in first.stdout  # the sample's April, the rejected part not in it
    # The sample's data end in 2020: the run says that freshness was judged at its declared end, and warns of nothing.
    assert f"\nReporting period 2019-01..2020-12 (declared in {sources / settings.REPORTING_PERIOD_FILE}): freshness judged at its end, 2020-12-31;" in first.stdout
    assert "WARN" not in first.stdout and "\nChecks: 108 of 108 passed.\n" in first.stdout
    with duckdb.connect(str(tmp_path / "warehouse" / settings.WORKING_DB_NAME), read_only=True) as con:
        rejected = dict(con.execute("SELECT source_file, error FROM audit.file_loads WHERE status = 'rejected'").fetchall())
    assert sorted(rejected) == sorted([*dates, "sales/2020-04/pasar_a__part2.csv"])
    assert rejected["sales/2031-05/pasar_a.csv"] == f"sales/2031-05/pasar_a.csv: month 2031-05 is after the current month {settings.current_month()} (Asia/Jakarta)"
    with duckdb.connect(str(tmp_path / "warehouse" / settings.PUBLISHED_DB_NAME), read_only=True) as con:
        assert observations(con) == observations(published)
        [(first_run,)] = con.execute("SELECT run_id FROM meta.publication").fetchall()

    again = cli_run(tmp_path, sources)

    # Nothing landed or changed since: the run says so, names what is still not loaded and publishes nothing new.
    assert again.returncode == 3, again.stderr[-3000:]  # the rejected files are still landed as they were
    assert again.stdout.startswith(f"Nothing landed or changed since run {first_run[:8]}")
    assert again.stdout.splitlines()[1] == "Still not loaded since that run: 4 landed file(s) rejected, 0 held back."
    assert f"  {reason}" in again.stdout.splitlines()[2:6]
    assert "+480.0" in again.stdout  # the headline table of the publication in place
    with duckdb.connect(str(tmp_path / "warehouse" / settings.PUBLISHED_DB_NAME), read_only=True) as con:
        assert con.execute("SELECT run_id FROM meta.publication").fetchall() == [(first_run,)]


@pytest.mark.parametrize(
    "text, problem",
    [
        # Before: the last key won, 54 files were rejected as outside the period, exit status 0.
        ('first_month: "2019-01"\nlast_month: "2020-12"\nlast_month: "2019-03"\n', "line 3, column 1: `last_month` is given twice (lines 2 and 3)"),
        # Before: a Python traceback.
        ('first_month: "2019-01\nlast_month: [\n', "line 3, column 1: found unexpected end of stream"),
        ("- 2019-01\n- 2020-12\n", "expected first_month and last_month (YYYY-MM), found \"['2019-01', '2020-12']\""),
        ('first_month: "2019-1"\nlast_month: "2020-12"\n', "first_month: String should match pattern"),
    ],
    ids=["duplicate-key", "not-yaml", "a-list", "not-a-month"],
)
def test_a_bad_reporting_period_file_stops_the_run_with_what_to_do(tmp_path, text, problem):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / settings.REPORTING_PERIOD_FILE).write_text(text)

    run = cli_run(tmp_path, sources)

    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines[0].startswith(f"Run failed before loading anything: {sources / settings.REPORTING_PERIOD_FILE}: {problem}")
    assert lines[1].startswith("What to do: correct it (reporting_period.yml declares first_month and last_month, YYYY-MM, each once;")
    assert lines[2] == f"No database has been published yet: {tmp_path / 'warehouse' / 'indicators.duckdb'} is written by the first run that succeeds."
    assert "Traceback" not in run.stderr
