"""dbt unit tests of the marts' logic (dbt_project/models/*/_*__unit_tests.yml)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import settings

pytestmark = pytest.mark.integration

# The environment's own dbt, whether or not the environment is on PATH.
DBT = str(Path(sys.executable).parent / "dbt")
TARGET = "target/unit"


def test_dbt_unit_tests_pass(sample_run):
    # Unit tests read their inputs' column types from the built warehouse.
    _, warehouse = sample_run
    env = {**os.environ, "DEI_WORKING_DB": str(warehouse.working_db), "DEI_HISTORY_DB": str(warehouse.history_db), "DBT_TARGET_PATH": TARGET}
    proc = subprocess.run(
        [DBT, "test", "--select", "test_type:unit", "--profiles-dir", "."],
        cwd=settings.DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    # Every unit test the project declares (the manifest this invocation parsed) ran and passed, each by name.
    target = settings.DBT_PROJECT_DIR / TARGET
    declared = set(json.loads((target / "manifest.json").read_text())["unit_tests"])
    results = {r["unique_id"]: r["status"] for r in json.loads((target / "run_results.json").read_text())["results"]}
    assert declared and results == dict.fromkeys(declared, "pass")
    assert f"PASS={len(declared)} " in proc.stdout
