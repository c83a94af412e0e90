"""What `make run` prints: each step as it starts and ends, then the summary with every warning,
and none of Dagster's own log (which goes to a file in the instance)."""

import os
import re
import shutil
import subprocess
import sys

import dagster as dg
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from orchestration import settings
from tests.conftest import SAMPLE_SOURCES

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
    assert len(warnings) == 1 and re.fullmatch(
        r"  WARN raw/sales:sales_freshness: the newest sales month is 2020-12, which ended [0-9]+ days ago \(allowed: 45\)", warnings[0]
    ), warnings
    assert summary.index("  WARN ") < summary.index("Headline indicators")
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
