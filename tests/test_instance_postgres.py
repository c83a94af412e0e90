"""Dagster's instance on PostgreSQL: a real run of the project's assets is recorded in the database,
and the daemon, in a process of its own, launches the runs queued there."""

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from orchestration import settings
from orchestration.tools import postgres

from .conftest import SAMPLE_SOURCES, free_port, run_pipeline, stop_server

pytestmark = pytest.mark.e2e

try:
    postgres.bindir()
except FileNotFoundError as missing:
    pytest.skip(str(missing), allow_module_level=True)


@pytest.fixture
def pg_server():
    """A server as `make postgres-up` starts it: its directory, port and URL."""
    # Not under pytest's tmp_path: as root the server runs as the postgres user, who cannot enter it.
    server_dir = Path(tempfile.mkdtemp(prefix="dei-postgres-"))
    port = free_port()
    try:
        yield server_dir, port, postgres.start(server_dir, port)
    finally:
        postgres.stop(server_dir)
        shutil.rmtree(server_dir)


@pytest.fixture
def pg_url(pg_server):
    return pg_server[2]


@pytest.fixture
def pg_home(pg_url, tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is the one `DEI_DAGSTER_STORAGE=postgres make` writes."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("".join((settings.REPO_ROOT / f).read_text() for f in ("dagster.yaml", "dagster-postgres.yaml")))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DEI_DAGSTER_PG_URL", pg_url)
    return home


def pg_query(pg_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Ask the database itself, as another process or machine would read it."""
    u = make_url(pg_url)
    with psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database, **u.query) as con, con.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_a_run_is_recorded_in_postgres(defs, pg_url, pg_home, tmp_path):
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

    # The database itself holds the run and its events.
    assert pg_query(pg_url, "SELECT run_id, status FROM runs") == [(result.run_id, "SUCCESS")]
    materialized = pg_query(pg_url, "SELECT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'", (result.run_id,))
    assert {'["raw", "provinces"]', '["raw", "platforms"]'} <= {row[0] for row in materialized}


# A code location of its own: the run queue and the daemon are under test, and a run of this one
# starts in seconds where every process of the project's (code server, run worker) takes ~7 s to load it.
QUEUED_CODE = """
import dagster as dg

@dg.op
def answer() -> int:
    return 42

@dg.job(executor_def=dg.in_process_executor)
def queued():
    answer()
"""


def stop_processes_naming(path: str) -> None:
    """Kill what is left that names `path` on its command line: a code server started for the
    location outlived the daemon's process group once (its heartbeat never came)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if path in command:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def test_the_daemon_launches_the_runs_queued_in_postgres(pg_url, pg_home, tmp_path):
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        limits = instance.get_concurrency_config()
        assert limits.run_queue_config.max_concurrent_runs == 1
        assert limits.pool_config.default_pool_limit == 1

    code = tmp_path / "queued.py"
    code.write_text(QUEUED_CODE)
    bin_ = Path(sys.executable).parent
    started = time.monotonic()
    # `make daemon`'s command on this code location, in a process (and session) of its own.
    daemon = subprocess.Popen(
        [str(bin_ / "dagster-daemon"), "run", "-f", str(code)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Launched as from the UI: the coordinator puts the run in the queue, in the database.
        launch = subprocess.run([str(bin_ / "dagster"), "job", "launch", "-f", str(code), "-j", "queued"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert launch.returncode == 0, launch.stderr[-3000:]
        queued_s = time.monotonic() - started
        runs = pg_query(pg_url, "SELECT run_id, status FROM runs")
        assert len(runs) == 1 and runs[0][1] in ("QUEUED", "STARTING", "STARTED", "SUCCESS")
        while time.monotonic() - started < 120 and runs[0][1] not in ("SUCCESS", "FAILURE"):
            time.sleep(0.5)
            runs = pg_query(pg_url, "SELECT run_id, status FROM runs")
    finally:
        stop_server(daemon)
        stop_processes_naming(str(code))
    print(f"run queued {queued_s:.1f} s and finished {time.monotonic() - started:.1f} s after the daemon started")

    assert [status for _, status in runs] == ["SUCCESS"]
    run_id = runs[0][0]
    events = pg_query(pg_url, "SELECT dagster_event_type FROM event_logs WHERE run_id = %s AND dagster_event_type IS NOT NULL ORDER BY id", (run_id,))
    lifecycle = [e for (e,) in events if e.startswith("PIPELINE_")]
    # Queued, launched by the daemon from the queue into a run worker of its own, finished.
    assert lifecycle == ["PIPELINE_ENQUEUED", "PIPELINE_STARTING", "PIPELINE_START", "PIPELINE_SUCCESS"]
    with dg.DagsterInstance.get() as instance:
        worker_pids = {e.dagster_event.pid for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)}
        assert len(worker_pids) == 1 and worker_pids.isdisjoint({os.getpid(), daemon.pid})
        assert {"SENSOR", "QUEUED_RUN_COORDINATOR"} <= set(instance.get_daemon_heartbeats())


# Other local users: tried as `nobody`, as a user on the machine would.
as_root_only = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root (runuser, the postgres user)")


def as_nobody(*cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "nobody", "--", *cmd], capture_output=True, text=True, cwd="/", env=env, timeout=60)


def psql(port: int, sql: str, host: str = "127.0.0.1", database: str = "dagster") -> list[str]:
    return [str(postgres.bindir() / "psql"), "-X", "-w", "-h", host, "-p", str(port), "-U", "postgres", "-d", database, "-tAc", sql]


@as_root_only
def test_another_local_user_is_refused_and_cannot_read_the_password(pg_server):
    server_dir, port, pg_url = pg_server
    pgpass = postgres.password_file(server_dir)
    assert make_url(pg_url).query == {"passfile": str(pgpass)}
    assert "pgpass" in pg_url and pgpass.read_text().split(":")[3] == "postgres"
    assert oct(pgpass.stat().st_mode & 0o777) == "0o600" and oct(server_dir.stat().st_mode & 0o777) == "0o700"

    # TCP without a password, with a wrong one, and with the password file: refused, never trusted.
    no_password = as_nobody(*psql(port, "SELECT 1"))
    assert no_password.returncode == 2 and "fe_sendauth: no password supplied" in no_password.stderr
    wrong = as_nobody(*psql(port, "COPY (SELECT 1) TO PROGRAM 'id'"), env={**os.environ, "PGPASSWORD": "postgres"})
    assert wrong.returncode == 2 and 'password authentication failed for user "postgres"' in wrong.stderr
    with_file = as_nobody(*psql(port, "SELECT 1"), env={**os.environ, "PGPASSFILE": str(pgpass)})
    assert with_file.returncode == 2 and "no password supplied" in with_file.stderr
    unreadable = as_nobody("cat", str(pgpass))
    assert unreadable.returncode == 1 and "Permission denied" in unreadable.stderr
    # The socket is in the server's own directory, closed to others.
    socket_ = as_nobody(*psql(port, "SELECT 1", host=str(server_dir)))
    assert socket_.returncode == 2 and "Permission denied" in socket_.stderr

    # The server's own view: every rule asks for a SCRAM password, and the superuser has one.
    assert pg_query(pg_url, "SELECT DISTINCT type, auth_method FROM pg_hba_file_rules ORDER BY 1") == [("host", "scram-sha-256"), ("local", "scram-sha-256")]
    assert pg_query(pg_url, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = 'postgres'") == [(True,)]


@as_root_only
def test_a_cluster_made_with_trust_gets_a_password_on_start(tmp_path):
    server_dir = Path(tempfile.mkdtemp(prefix="dei-postgres-"))
    port = free_port()
    bin_ = postgres.bindir()
    try:
        # A cluster as `make postgres-up` made it before passwords: trust, running.
        shutil.chown(server_dir, "postgres", "postgres")
        data, log, options = str(server_dir / "data"), str(server_dir / "server.log"), f"-h 127.0.0.1 -p {port} -k {server_dir}"
        for tool in (["initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"], ["pg_ctl", "start", "-D", data, "-l", log, "-w", "-o", options]):
            subprocess.run(["runuser", "-u", "postgres", "--", str(bin_ / tool[0]), *tool[1:]], check=True, capture_output=True)
        before = as_nobody(*psql(port, "SELECT current_setting('is_superuser')", database="postgres"))
        assert before.stdout.strip() == "on"  # what the issue found: any local user is superuser

        pg_url = postgres.start(server_dir, port)
        after = as_nobody(*psql(port, "SELECT 1"))
        assert after.returncode == 2 and "no password supplied" in after.stderr
        assert pg_query(pg_url, "SELECT current_user") == [("postgres",)]
    finally:
        postgres.stop(server_dir)
        shutil.rmtree(server_dir)


@as_root_only
def test_a_checkout_the_server_user_cannot_enter(monkeypatch):
    """As root the server runs as `postgres`: a checkout in a `mktemp -d` directory (0700) is closed
    to it, so its data goes to a directory for that checkout in the server user's home."""
    checkout = Path(tempfile.mkdtemp(prefix="dei-checkout-"))
    monkeypatch.setattr(settings, "REPO_ROOT", checkout)
    monkeypatch.delenv("DEI_POSTGRES_DIR", raising=False)
    server_dir = postgres.default_dir()
    assert not server_dir.is_relative_to(checkout) and server_dir.is_relative_to(Path(pwd.getpwnam("postgres").pw_dir))
    assert server_dir.name.startswith(checkout.name)
    closed = checkout / ".cache" / "postgres"
    closed.mkdir(parents=True)
    try:
        # The directory in the closed checkout, asked for by name: refused before initdb, naming it.
        with pytest.raises(RuntimeError, match=rf"the `postgres` user cannot enter {closed} .*set DEI_POSTGRES_DIR"):
            postgres.start(closed, free_port())
        assert not (closed / "data").exists()

        pg_url = postgres.start(server_dir, free_port())
        assert pg_query(pg_url, "SELECT current_database()") == [("dagster",)]
        assert oct(checkout.stat().st_mode & 0o777) == "0o700"  # the checkout is left as it was
    finally:
        postgres.stop(server_dir)
        shutil.rmtree(server_dir, ignore_errors=True)
        shutil.rmtree(checkout)
