"""The Spark standalone cluster of `make cluster-up`: a job of the project's Spark session runs on
both workers, and `cluster-down` leaves no process behind."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from orchestration import settings
from orchestration.tools import cluster

from .conftest import free_port

pytestmark = [pytest.mark.spark, pytest.mark.cluster]

try:
    cluster.check_java()
except FileNotFoundError as missing:
    pytest.skip(str(missing), allow_module_level=True)

# The run's own session (orchestration.engines.spark.session(), configured from DEI_SPARK_MASTER and the
# lake), in a process of its own as a run's is. Before the job it waits until both executors have
# registered with the driver, so that its tasks are offered to both; while the application is
# active it reads the master's view of it.
JOB = """
import json, sys, time
from orchestration.tools import cluster
from orchestration.engines.spark import executors, session

spark = session()
deadline = time.monotonic() + 120
while len(executors(spark)) < 2 and time.monotonic() < deadline:
    time.sleep(0.2)
total = spark.range(0, 1_000_000, numPartitions=8).selectExpr("sum(id)").first()[0]
state = cluster.master_state(int(sys.argv[1]))
app = spark.sparkContext.applicationId
print(json.dumps({
    "app": app,
    "master": spark.sparkContext.master,
    "executors": executors(spark),
    "sum": total,
    "app_cores": [a["cores"] for a in state["activeapps"] if a["id"] == app],
    "worker_cores_used": sorted(w["coresused"] for w in state["workers"]),
}))
spark.stop()
"""


def cluster_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestration.tools.cluster", *args], capture_output=True, text=True, timeout=300, cwd=settings.REPO_ROOT)


def processes_of(directory: Path) -> list[int]:
    """Processes started for the cluster in `directory`: the daemons and the executors they launch
    inherit its scratch directory in their environment."""
    mark = f"SPARK_LOCAL_DIRS={directory / 'tmp'}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def test_a_job_runs_on_both_workers_and_down_leaves_nothing(tmp_path):
    directory = tmp_path / "cluster"
    port, webui_port, worker_ports = free_port(), free_port(), [str(free_port()), str(free_port())]
    up = ["up", "--dir", str(directory), "--port", str(port), "--webui-port", str(webui_port), "--worker-webui-ports", *worker_ports, "--no-postgres"]

    started = time.monotonic()
    try:
        first = cluster_cli(*up)
        assert first.returncode == 0, first.stderr
        assert f"DEI_SPARK_MASTER=spark://127.0.0.1:{port}" in first.stdout
        assert "DEI_DAGSTER_PG_URL" not in first.stdout
        pids = {p.name: p.read_text() for p in directory.glob("*.pid")}
        assert sorted(pids) == ["master.pid", "worker-1.pid", "worker-2.pid"]
        state = cluster.master_state(webui_port)
        assert [w["state"] for w in state["workers"]] == ["ALIVE", "ALIVE"]
        assert {(w["host"], w["cores"]) for w in state["workers"]} == {("127.0.0.1", 1)}
        # Up again: nothing new is started.
        again = cluster_cli(*up)
        assert again.returncode == 0, again.stderr
        assert {p.name: p.read_text() for p in directory.glob("*.pid")} == pids
        up_s = time.monotonic() - started

        env = {**os.environ, "DEI_SPARK_MASTER": f"spark://127.0.0.1:{port}", "DEI_LAKE_DIR": str(tmp_path / "lake")}
        job = subprocess.run([sys.executable, "-c", JOB, str(webui_port)], env=env, capture_output=True, text=True, timeout=300, cwd=settings.REPO_ROOT)
        assert job.returncode == 0, job.stderr[-3000:]
        done = json.loads(job.stdout.strip().splitlines()[-1])
        job_s = time.monotonic() - started - up_s
    finally:
        down = cluster_cli("down", "--dir", str(directory))
    down_s = time.monotonic() - started - up_s - job_s
    print(f"cluster up {up_s:.1f} s, job {job_s:.1f} s, down {down_s:.1f} s")

    assert done["master"] == f"spark://127.0.0.1:{port}"
    assert done["sum"] == sum(range(1_000_000))
    # Two executors registered with the driver, neither of them the driver ...
    assert len(set(done["executors"])) == 2, done["executors"]
    # ... the application held one core on each worker ...
    assert done["app_cores"] == [2]
    assert done["worker_cores_used"] == [1, 1]
    # ... and each worker's executor ran tasks of the job (the executors log to the worker's work dir).
    ran = {}
    for worker in ("worker-1", "worker-2"):
        logs = list((directory / worker / done["app"]).glob("*/stderr"))
        assert len(logs) == 1, logs
        ran[worker] = (logs[0].parent.name, logs[0].read_text().count("Finished task"))
    assert len({executor for executor, _ in ran.values()}) == 2, ran
    assert all(tasks > 0 for _, tasks in ran.values()), ran

    assert down.returncode == 0, down.stderr
    assert not list(directory.glob("*.pid"))
    assert processes_of(directory) == []
    assert cluster.master_state(webui_port) is None
    assert cluster_cli("down", "--dir", str(directory)).returncode == 0


def test_a_port_in_use_fails_up_with_its_cause_and_leaves_nothing(tmp_path):
    directory = tmp_path / "cluster"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = ["--port", str(port), "--webui-port", str(free_port()), "--worker-webui-ports", str(free_port()), str(free_port())]
        up = cluster_cli("up", "--dir", str(directory), *ports, "--no-postgres")
    assert up.returncode != 0
    # The summary names the daemon and quotes its log's error: the port it could not bind.
    assert "The cluster did not start: Spark master exited" in up.stderr, up.stderr
    assert f"'sparkMaster' failed after 0 retries (starting from {port})" in up.stderr, up.stderr
    # The workers started beside it are stopped again.
    assert not list(directory.glob("*.pid"))
    assert processes_of(directory) == []


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port` (a bind test would also fail on
    the TIME_WAIT of the connections the start made to the web UIs)."""
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_postgres_failing_after_spark_started_leaves_nothing_running(tmp_path):
    """PostgreSQL starts after the Spark daemons: when it fails (here initdb, on a data directory
    that is not empty), the master and workers this start launched are stopped, their ports freed."""
    directory = tmp_path / "cluster"
    # Not under tmp_path: as root the server runs as the postgres user, who cannot enter it.
    pg_dir = Path(tempfile.mkdtemp(prefix="dei-postgres-"))
    (pg_dir / "data" / "left-over").mkdir(parents=True)
    ports = [free_port() for _ in range(5)]
    spark_ports = ["--port", str(ports[0]), "--webui-port", str(ports[1]), "--worker-webui-ports", str(ports[2]), str(ports[3])]
    try:
        up = subprocess.run(
            [sys.executable, "-m", "orchestration.tools.cluster", "up", "--dir", str(directory), *spark_ports, "--postgres-port", str(ports[4])],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=settings.REPO_ROOT,
            env={**os.environ, "DEI_POSTGRES_DIR": str(pg_dir)},
        )
        assert up.returncode != 0
        assert "The cluster did not start: initdb failed" in up.stderr and "exists but is not empty" in up.stderr, up.stderr
        # The workers had registered (they are stopped after the master reported them ALIVE) ...
        assert "Successfully registered with master" in (directory / "worker-1.log").read_text()
        # ... and nothing is left: no pid file, no process, no marker for `down`, every port free.
        assert not list(directory.glob("*.pid")) and not (directory / cluster.POSTGRES_MARKER).exists()
        assert processes_of(directory) == []
        assert [p for p in ports if listening(p)] == []
    finally:
        cluster_cli("down", "--dir", str(directory))
        shutil.rmtree(pg_dir)
