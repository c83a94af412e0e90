"""dbt unit tests of the marts' logic (dbt_project/models/*/_*__unit_tests.yml)."""

import os
import subprocess
import sys
from pathlib import Path

from orchestration import settings

# The environment's own dbt, whether or not the environment is on PATH.
DBT = str(Path(sys.executable).parent / "dbt")


def test_dbt_unit_tests_pass(sample_run):
    # Unit tests read their inputs' column types from the built warehouse.
    _, warehouse = sample_run
    env = {**os.environ, "DEI_WORKING_DB": str(warehouse.working_db), "DEI_HISTORY_DB": str(warehouse.history_db), "DBT_TARGET_PATH": "target/unit"}
    proc = subprocess.run(
        [DBT, "test", "--select", "test_type:unit", "--profiles-dir", "."],
        cwd=settings.DBT_PROJECT_DIR, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "PASS=8" in proc.stdout
