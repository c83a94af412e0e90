"""The published database and exports: atomic under readers and kills, readable by the BI tools people have."""

import ast
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.atomic import replacing
from orchestration.serving.sdmx import STRUCTURE_ID
from orchestration.settings import REPO_ROOT
from tests.conftest import SAMPLE_SOURCES, run_pipeline

BIN = Path(sys.executable).parent
OLD_DUCKDB_ENV = REPO_ROOT / ".cache" / "duckdb-1.4"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def prior_publication(sample_run, tmp_path) -> Path:
    """A warehouse dir whose published database is an earlier good run's."""
    _, warehouse = sample_run
    target = tmp_path / "warehouse"
    target.mkdir()
    shutil.copy(warehouse.published_db, target / "indicators.duckdb")
    return target


@pytest.mark.unit
def test_a_replaced_file_is_whole_and_a_failed_write_changes_nothing(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with replacing(target) as staging:
        staging.write_text("new")
        assert staging.parent == tmp_path and target.read_text() == "old"
    assert target.read_text() == "new"
    with pytest.raises(OSError), replacing(target) as staging:
        staging.write_text("half")
        raise OSError("No space left on device")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


@pytest.mark.integration
def test_readers_see_whole_versions_during_a_full_run(defs, prior_publication, sources_copy, tmp_path):
    published = prior_publication / "indicators.duckdb"
    shutil.rmtree(sources_copy / "sales" / "2020-12")  # the new version differs from the old
    stop = tmp_path / "stop"
    readers = {
        mode: subprocess.Popen([sys.executable, str(REPO_ROOT / "tests" / "reader.py"), str(published), mode, str(stop)], stdout=subprocess.PIPE, text=True)
        for mode in ("reconnect", "longlived")
    }
    deadline = time.monotonic() + 60
    while not all(Path(f"{stop}.{mode}.ready").exists() for mode in readers) and time.monotonic() < deadline:
        time.sleep(0.05)

    result = run_pipeline(defs, sources_copy, prior_publication)
    time.sleep(0.5)
    stop.touch()
    stats = {mode: json.loads(proc.communicate(timeout=60)[0]) for mode, proc in readers.items()}

    assert result.success
    for mode, s in stats.items():
        assert s["errors"] == [] and s["inconsistent"] == 0 and s["queries"] > 10, (mode, s)
    old_run = stats["longlived"]["run_ids"]
    assert len(old_run) == 1  # a connection keeps the version it opened
    assert stats["reconnect"]["run_ids"] == [old_run[0], result.run_id]  # new connections get the new one
    print(f"\nreader queries during the run: {stats['reconnect']['queries']} reconnecting + {stats['longlived']['queries']} long-lived, 0 errors")


@pytest.mark.e2e
def test_kill_9_mid_run_leaves_the_published_database_as_it_was(prior_publication, tmp_path):
    published = prior_publication / "indicators.duckdb"
    before = sha256(published)
    (tmp_path / "dagster_home").mkdir()
    env = {**os.environ, "DEI_SOURCES_DIR": str(SAMPLE_SOURCES), "DEI_WAREHOUSE_DIR": str(prior_publication), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "run"], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    marts_started = prior_publication / "dbt" / "dbt_marts"
    deadline = time.monotonic() + 240
    while not marts_started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    assert sha256(published) == before
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("SELECT count(*) FROM marts.indicators").fetchall()[0][0] > 0
    con.close()


@pytest.mark.e2e
def test_published_file_opens_in_duckdb_1_4(sample_run):
    """BI drivers bundle older DuckDB releases: the published storage version must be readable by them."""
    _, warehouse = sample_run
    python = OLD_DUCKDB_ENV / "bin" / "python"
    if not python.exists():
        subprocess.run([str(BIN / "uv"), "venv", "--quiet", "--python", sys.executable, str(OLD_DUCKDB_ENV)], check=True)
        subprocess.run([str(BIN / "uv"), "pip", "install", "--quiet", "--python", str(python), "duckdb==1.4.*"], check=True)
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(duckdb.__version__, con.execute(\"SELECT obs_value FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES_GROWTH_VS_BASE' "
        "AND ref_area = 'ID' AND size_class = '_T' AND breakdown = '_T' AND time_period = '2020-04'\").fetchall()[0][0], "
        # The as-published table macro, as a BI tool would call it.
        "con.execute(\"SELECT obs_value FROM marts.indicators_as_published(now()) WHERE indicator_code = 'UMKM_GDP_SHARE' "
        "AND ref_area = 'ID' AND time_period = '2019'\").fetchall()[0][0])"
    )
    out = subprocess.run([str(python), "-c", script, str(warehouse.published_db)], capture_output=True, text=True, check=True).stdout.split()
    assert out[0].startswith("1.4.") and float(out[1]) == 480.0 and float(out[2]) == 60.51


# The connection recipes of docs/bi-tools.md, as written there.


@pytest.mark.integration
@pytest.mark.quick
def test_recipe_duckdb_cli_read_only(sample_run):
    _, warehouse = sample_run
    out = subprocess.run(
        [str(BIN / "duckdb"), "-readonly", "-csv", str(warehouse.published_db), "-c", "select count(*) as n from marts.indicator_catalog"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["n", "17"]


@pytest.mark.integration
@pytest.mark.quick
def test_recipe_python_read_only(sample_run):
    _, warehouse = sample_run
    con = duckdb.connect(str(warehouse.published_db), read_only=True)
    assert con.execute("SELECT count(*) FROM meta.publication").fetchall() == [(1,)]
    with pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE marts.x AS SELECT 1")
    con.close()
    # The recipe as docs/bi-tools.md writes it gives one series: one row per month, none twice.
    recipe = textwrap.dedent(re.search(r"- Python:\n  ```python\n(.*?)\n  ```", (REPO_ROOT / "docs" / "bi-tools.md").read_text(), re.S).group(1))
    module = ast.parse(recipe.replace("warehouse/indicators.duckdb", str(warehouse.published_db)))
    scope: dict = {}
    exec(compile(ast.Module(body=module.body[:-1], type_ignores=[]), "recipe", "exec"), scope)
    rows = eval(compile(ast.Expression(body=module.body[-1].value), "recipe", "eval"), scope).fetchall()
    assert len(rows) == 24 and len({period for period, *_ in rows}) == 24 and rows[0][0] == "2019-01"
    scope["con"].close()


SQLALCHEMY_RECIPE = """
import sys
import sqlalchemy as sa
engine = sa.create_engine(f"duckdb:///{sys.argv[1]}", connect_args={
    "read_only": True, "config": {"enable_external_access": False, "lock_configuration": True},
})
with engine.connect() as conn:
    print(conn.execute(sa.text(
        "SELECT obs_value FROM marts.indicators WHERE indicator_code = 'ONBOARDING_RATE' AND ref_area = 'ID' "
        "AND size_class = 'ULTRA_MIKRO' AND breakdown = '_T' AND time_period = '2020-10'"
    )).scalar_one())
with engine.connect() as conn:
    try:
        conn.execute(sa.text("SELECT * FROM read_text('/etc/hostname')"))
    except sa.exc.DBAPIError as error:
        print(str(error.orig).splitlines()[0])
"""


@pytest.mark.integration
@pytest.mark.quick
def test_recipe_sqlalchemy_duckdb_engine_read_only(sample_run):
    """How Superset and Metabase-style tools connect: in their own process, as they would; no file
    but the published one can be read."""
    _, warehouse = sample_run
    out = subprocess.run([sys.executable, "-c", SQLALCHEMY_RECIPE, str(warehouse.published_db)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    value, refused = out.stdout.splitlines()
    assert float(value) == 14.6875
    assert refused == 'Permission Error: Cannot access file "/etc/hostname" - file system operations are disabled by configuration'


@pytest.mark.integration
@pytest.mark.quick
def test_recipe_parquet_exports(sample_run, published):
    _, warehouse = sample_run
    marts = {t for (t,) in published.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()}
    files = {p.stem for p in warehouse.exports_dir.glob("*.parquet")}
    assert files == marts
    for table in marts:
        assert pq.read_table(warehouse.exports_dir / f"{table}.parquet").num_rows == published.execute(f"SELECT count(*) FROM marts.{table}").fetchall()[0][0]


@pytest.mark.integration
@pytest.mark.quick
def test_sdmx_csv_has_one_row_per_observation(sample_run, published):
    _, warehouse = sample_run
    with open(warehouse.exports_dir / "indicators.sdmx.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames[:3] == ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    assert reader.fieldnames[-4:] == ["OBS_VALUE", "OBS_STATUS", "ORIGIN", "SOURCE"]
    assert len(rows) == published.execute("SELECT count(*) FROM marts.indicators").fetchall()[0][0]
    keys = {(r["INDICATOR"], r["REF_AREA"], r["SIZE_CLASS"], r["BREAKDOWN"], r["TIME_PERIOD"]) for r in rows}
    assert len(keys) == len(rows)
    assert {r["STRUCTURE_ID"] for r in rows} == {STRUCTURE_ID}
    assert all((r["OBS_VALUE"] == "NaN") == (r["OBS_STATUS"] in ("L", "M")) for r in rows)
    headline = next(
        r
        for r in rows
        if r["INDICATOR"] == "ONLINE_SALES_GROWTH_VS_BASE" and r["REF_AREA"] == "ID" and r["SIZE_CLASS"] == "_T" and r["BREAKDOWN"] == "_T" and r["TIME_PERIOD"] == "2020-04"
    )
    assert float(headline["OBS_VALUE"]) == 480.0 and headline["FREQ"] == "M" and headline["ORIGIN"] == "synthetic"
