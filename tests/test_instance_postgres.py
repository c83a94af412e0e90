"""Dagster's instance on PostgreSQL: a real run of the project's assets is recorded in the database."""

import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from orchestration import postgres, settings

from .conftest import SAMPLE_SOURCES, free_port, run_pipeline

try:
    postgres.bindir()
except FileNotFoundError as missing:
    pytest.skip(str(missing), allow_module_level=True)


@pytest.fixture
def pg_url():
    # Not under pytest's tmp_path: as root the server runs as the postgres user, who cannot enter it.
    server_dir = Path(tempfile.mkdtemp(prefix="dei-postgres-"))
    try:
        yield postgres.start(server_dir, free_port())
    finally:
        postgres.stop(server_dir)
        shutil.rmtree(server_dir)


def test_a_run_is_recorded_in_postgres(defs, pg_url, tmp_path, monkeypatch):
    # The instance's dagster.yaml as `DEI_DAGSTER_STORAGE=postgres make` writes it.
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("".join((settings.REPO_ROOT / f).read_text() for f in ("dagster.yaml", "dagster-postgres.yaml")))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DEI_DAGSTER_PG_URL", pg_url)

    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        feeds = [dg.AssetKey(["raw", "provinces"]), dg.AssetKey(["raw", "platforms"])]
        result = run_pipeline(defs, SAMPLE_SOURCES, tmp_path / "warehouse", selection=feeds, instance=instance)
        assert result.success
        runs = instance.get_runs()
        assert [r.run_id for r in runs] == [result.run_id]
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert {k.to_user_string() for k in instance.get_asset_keys()} >= {"raw/provinces", "raw/platforms"}
    print(f"run on the PostgreSQL instance: {time.monotonic() - started:.1f} s")

    # The database itself holds the run and its events, as another process or machine would read them.
    u = make_url(pg_url)
    with psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as con, con.cursor() as cur:
        cur.execute("SELECT run_id, status FROM runs")
        assert cur.fetchall() == [(result.run_id, "SUCCESS")]
        cur.execute(
            "SELECT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        )
        materialized = {row[0] for row in cur.fetchall()}
        assert {'["raw", "provinces"]', '["raw", "platforms"]'} <= materialized
