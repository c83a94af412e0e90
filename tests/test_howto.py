"""The how-tos in docs/, followed command by command on a copy of the project."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from orchestration.settings import REPO_ROOT

HOWTO = REPO_ROOT / "docs" / "howto-next-month.md"


def commands(doc: Path) -> list[str]:
    """Every command of the doc's ```sh blocks, in order."""
    return [line for block in re.findall(r"```sh\n(.*?)```", doc.read_text(), re.S) for line in block.splitlines() if line.strip()]


def project_copy(target: Path) -> Path:
    """The project's files (as git lists them, uncommitted ones too) and its installed environment."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for rel in filter(None, files):
        if (REPO_ROOT / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / rel, target / rel)
    (target / ".venv").symlink_to(REPO_ROOT / ".venv")
    return target


def test_the_next_month_howto(tmp_path):
    project = project_copy(tmp_path / "project")
    scratch = tmp_path / "next-month"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEI_") and k != "DAGSTER_HOME"}
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
    done = []
    for step in steps:
        done.append(subprocess.run(step.replace("/tmp/next-month", str(scratch)), shell=True, cwd=project, env=env, capture_output=True, text=True, timeout=1200))
    baseline, *_, rejected, audit_rejected, _, published, report, audit_loaded = done
    for i, run in enumerate(done):
        if i != 5:
            assert run.returncode == 0, (steps[i], run.stderr[-3000:])

    assert "the latest 12 months: 2020-01 to 2020-12" in baseline.stdout
    (first_run,) = re.findall(r"^Run (\S+) succeeded", baseline.stdout, re.M)

    # Every file of the month is rejected (outside the declared period): nothing new is published, loudly.
    assert rejected.returncode == 2 and "make: *** [Makefile" in rejected.stderr  # the command exits 1, make with 2
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
