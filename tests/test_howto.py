"""The how-tos in docs/, followed command by command on a copy of the project."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.e2e

HOWTO = REPO_ROOT / "docs" / "howto-next-month.md"


def commands(doc: Path) -> list[str]:
    """Every command of the doc's ```sh blocks, in order."""
    return [line for block in re.findall(r"```sh\n(.*?)```", doc.read_text(), re.S) for line in block.splitlines() if line.strip()]


def project_copy(target: Path) -> Path:
    """The project's files (as git lists them, uncommitted ones too) and its installed environment."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        if (REPO_ROOT / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / rel, target / rel)
    (target / ".venv").symlink_to(REPO_ROOT / ".venv")
    return target


# As a user runs the commands: neither this suite's settings nor its instance.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("DEI_") and k != "DAGSTER_HOME"}


def run(step: str, project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(step, shell=True, cwd=project, env=ENV, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def first_make_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """Both how-tos start with `make run` on a copy of the project: run once, on a copy each how-to
    copies again (the warehouse, the instance and the dbt manifest with it) to follow the rest."""
    project = project_copy(tmp_path_factory.mktemp("howto") / "project")
    done = run("make run", project)
    assert done.returncode == 0, ("make run", done.stderr[-3000:])
    return project, done


def after_first_make_run(first_make_run, target: Path) -> tuple[Path, subprocess.CompletedProcess]:
    project, done = first_make_run
    shutil.copytree(project, target, symlinks=True)
    return target, done


def test_the_next_month_howto(first_make_run, tmp_path):
    project, baseline = after_first_make_run(first_make_run, tmp_path / "project")
    scratch = tmp_path / "next-month"
    steps = commands(HOWTO)
    assert steps == [
        "make run",
        ".venv/bin/python -m orchestration.samplegen --out /tmp/next-month --end 2021-01",
        "mkdir -p sources/sales/2021-01",
        "cp /tmp/next-month/sales/2021-01/* sources/sales/2021-01/",
        "cp /tmp/next-month/onboarding/2021-01.csv sources/onboarding/",
        "make run",
        "make audit",
        """sed -i 's/^last_month: .*/last_month: "2021-01"/' sources/reporting_period.yml""",
        "make run",
        ".venv/bin/python -m orchestration.cli report",
        "make audit",
    ]
    done = [baseline] + [run(step.replace("/tmp/next-month", str(scratch)), project) for step in steps[1:]]
    *_, rejected, audit_rejected, _, published, report, audit_loaded = done
    for i, step_run in enumerate(done):
        if i != 5:
            assert step_run.returncode == 0, (steps[i], step_run.stderr[-3000:])

    assert "the latest 12 months: 2020-01 to 2020-12" in baseline.stdout
    (first_run,) = re.findall(r"^Run (\S+) succeeded", baseline.stdout, re.M)

    # Every file of the month is rejected (outside the declared period): nothing new is published, loudly.
    assert rejected.returncode == 2 and "*** [Makefile" in rejected.stderr  # the command exits 1, make with 2
    assert "NOTHING NEW PUBLISHED by run " in rejected.stderr and "was left as it was" in rejected.stderr
    assert "rejected sales/2021-01/pasar_a.csv: month 2021-01 is outside the reporting period 2019-01..2020-12" in rejected.stdout
    assert "Landed files: 0 loaded, " in rejected.stdout and " 5 rejected;" in rejected.stdout
    assert re.search(r"^  onboarding +onboarding/2021-01\.csv +rejected +0 +0 +0  onboarding/2021-01\.csv: month 2021-01 is outside", audit_rejected.stdout, re.M)

    # With the period extended, the month loads and the headline's 12 months end with it.
    assert published.returncode == 0 and "Landed files: 5 loaded, " in published.stdout
    headline = published.stdout.split("Headline indicators, Indonesia, ")[1]
    assert headline.startswith("the latest 12 months: 2020-02 to 2021-01 (")
    (row,) = re.findall(r"^2021-01 .*$", headline, re.M)
    assert "n/a" not in row and len(row.split()) == 6, row
    assert not re.search(r"^2020-01 ", headline, re.M)
    assert report.stdout.split("\n\ntraining")[0] == ("Headline indicators, Indonesia, " + headline).split("\n\ntraining")[0]
    assert first_run[:8] not in report.stdout.splitlines()[0]
    assert re.search(r"^  sales +sales/2021-01/pasar_a\.csv +loaded +[0-9,]+ +[0-9,]+ +0  $", audit_loaded.stdout, re.M), audit_loaded.stdout


def test_the_audit_after_a_failure_howto(first_make_run, tmp_path):
    project, baseline = after_first_make_run(first_make_run, tmp_path / "project")
    steps = commands(REPO_ROOT / "docs" / "howto-audit-after-a-failure.md")
    assert steps == [
        "make run",
        "cp tests/fixtures/landing/sales/2020-04/pasar_a__text_in_number.csv sources/sales/2020-04/",
        "make run",
        "make audit",
        "rm sources/sales/2020-04/pasar_a__text_in_number.csv",
        "make run",
    ]
    landed, failed, audit, removed, recovered = [run(step, project) for step in steps[1:]]
    assert [r.returncode for r in (baseline, landed, failed, audit, removed, recovered)] == [0, 0, 2, 0, 0, 0], failed.stderr[-3000:]
    assert "Landed files: 1 loaded, 129 unchanged, 0 rejected; 0 rows loaded, 4 quarantined." in failed.stdout
    assert "  quarantined rows, with line, rule and reason: quarantine.sales (4)" in failed.stdout
    assert "  every file, load and quarantined row of this run: `make audit` (reads " in failed.stdout
    assert "check raw/sales:contract failed" in failed.stderr and "The published database was left as it was" in failed.stderr
    assert re.search(r"^  sales +sales/2020-04/pasar_a__text_in_number\.csv +loaded +4 +0 +4  $", audit.stdout, re.M), audit.stdout
    quarantined = audit.stdout.split("Quarantined in this run, sales (4 row(s), quarantine.sales):\n")[1].splitlines()[:4]
    assert all(line.startswith("  sales/2020-04/pasar_a__text_in_number.csv:") for line in quarantined), quarantined
    # Text where a number belongs (lines 3 and 5), and the keys the sample already holds (lines 2 and 4).
    assert sorted(line.split("  ")[3].split(":")[0] for line in quarantined) == ["type", "type", "unique_key", "unique_key"], quarantined
    (first_run,) = re.findall(r"^Run (\S+) succeeded", baseline.stdout, re.M)
    assert f"Nothing landed or changed since run {first_run[:8]} " in recovered.stdout and f"run {first_run[:8]}, release 1)" in recovered.stdout


def test_the_add_a_feed_howto(first_make_run, tmp_path):
    # "after a first `make run`", as the page says.
    project, _ = after_first_make_run(first_make_run, tmp_path / "project")
    steps = commands(REPO_ROOT / "docs" / "howto-add-a-feed.md")
    assert steps == [
        "cp docs/examples/public_figures.csv sources/reference/public_figures.csv",
        "cat docs/examples/public_figures.contract.yml >> sources/contracts.yml",
        "make render",
        "make run",
        "make audit",
    ]
    landed, appended, rendered, made, audit = [run(step, project) for step in steps]
    assert [r.returncode for r in (landed, appended, rendered, made, audit)] == [0, 0, 0, 0, 0], (rendered.stderr + made.stderr)[-3000:]
    assert "name: public_figures" in (project / "dbt_project" / "models" / "staging" / "__sources.yml").read_text()
    assert "### `public_figures`: Published figures on UMKM and the digital economy" in (project / "sources" / "README.md").read_text()
    assert "Landed files: 1 loaded, 129 unchanged, 0 rejected; 68 rows loaded, 0 quarantined." in made.stdout
    assert re.search(r"^  public_figures +reference/public_figures\.csv +loaded +68 +68 +0  $", audit.stdout, re.M), audit.stdout
    with duckdb.connect(str(project / "warehouse" / "working.duckdb"), read_only=True) as con:
        assert con.execute("SELECT value, unit FROM raw.public_figures WHERE indicator = 'umkm_units_total' AND period = '2019'").fetchall() == [(65_470_000.0, "units")]
