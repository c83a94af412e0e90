"""What a run pays to import: loading the definitions on the default engine imports nothing a DuckDB
run never uses (Spark, the PostgreSQL instance's driver, plotting), and what is installed is
installed compiled, so no run compiles it again."""

import json
import os
import subprocess
import sys

import pytest

from orchestration import settings

pytestmark = pytest.mark.e2e

NEVER_ON_DUCKDB = ("pyspark", "py4j", "psycopg2", "matplotlib")

# In a fresh interpreter: which are installed, which the definitions import, and whether pyspark
# still imports afterwards (Pandera is loaded with it reading as missing; a Spark run imports it later).
SCRIPT = f"""
import importlib.util, json, sys
installed = [name for name in {NEVER_ON_DUCKDB!r} if importlib.util.find_spec(name) is not None]
import orchestration.definitions
imported = sorted({{m.split(".")[0] for m in sys.modules}} & set({NEVER_ON_DUCKDB!r}))
import pyspark.sql
print(json.dumps({{"installed": installed, "imported": imported, "spark_session": pyspark.sql.SparkSession.__name__}}))
"""


def test_definitions_import_no_spark_postgres_or_plotting():
    env = {k: v for k, v in os.environ.items() if k not in ("DEI_ENGINE", "DEI_SPARK_MASTER", "DEI_DAGSTER_STORAGE")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=settings.REPO_ROOT, env=env, capture_output=True, text=True, check=True).stdout
    modules = json.loads(out.splitlines()[-1])
    # The suite's environment has every extra: pyspark is there to be imported.
    assert "pyspark" in modules["installed"]
    assert modules["imported"] == []
    assert modules["spark_session"] == "SparkSession"


def test_the_install_is_compiled_to_bytecode():
    # Where Python may not write its caches (PYTHONDONTWRITEBYTECODE), an install left as source
    # is compiled again by every run on import: half of its import time.
    out = subprocess.run(["make", "-n", "-W", "pyproject.toml", "setup"], cwd=settings.REPO_ROOT, capture_output=True, text=True, check=True).stdout
    installs = [line for line in out.splitlines() if " sync " in line]
    assert installs and all("UV_COMPILE_BYTECODE=1 " in line for line in installs)
