"""A Spark standalone cluster on this machine for the Spark engine: `make cluster-up` / `make cluster-down`.

A master and two one-core workers from the Spark bundled in the pyspark wheel (its sbin has no
start-master.sh, so each daemon is launched by `spark-class`), and the PostgreSQL server of
Dagster's instance (orchestration.tools.postgres). Everything listens on 127.0.0.1 only; pid files, logs
and the workers' scratch space live in one directory (`.cache/cluster`). `down` stops exactly what
`up` started, by its pid files, and waits until the processes are gone; both are idempotent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from orchestration import settings
from orchestration.tools import postgres

DEFAULT_DIR = settings.REPO_ROOT / ".cache" / "cluster"
HOST = "127.0.0.1"
WORKER_CORES = 1
WORKER_MEMORY = "1g"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# Written by `up` when it started PostgreSQL (not when it already ran): `down` stops it only then.
POSTGRES_MARKER = "postgres.dir"
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60


def spark_home() -> Path:
    """The Spark inside the pyspark wheel (bin/spark-class and its jars), found without importing pyspark."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("pyspark is not installed: run `make setup`")
    return Path(spec.origin).parent


def check_java() -> None:
    """FileNotFoundError, saying what to install, when spark-class would find no Java."""
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise FileNotFoundError("no Java: install Debian's openjdk-17-jre-headless (`make cluster-up` does)")


def spark_env(directory: Path) -> dict[str, str]:
    """The daemons' environment: every socket and web UI on loopback, scratch space under `directory`."""
    check_java()
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        # Spark's web UIs bind to SPARK_LOCAL_IP (else every interface); RPC binds to --host.
        "SPARK_LOCAL_IP": HOST,
        "SPARK_MASTER_HOST": HOST,
        "SPARK_LOCAL_DIRS": str(directory / "tmp"),
        # A port in use stops the daemon (its log says which) instead of moving it to the next port.
        "SPARK_DAEMON_JAVA_OPTS": "-Dspark.port.maxRetries=0",
    }


@dataclass(frozen=True)
class Daemon:
    """One Spark daemon: its name names its pid file and log in the cluster directory."""

    name: str
    main_class: str
    args: tuple[str, ...]

    def pid_file(self, directory: Path) -> Path:
        return directory / f"{self.name}.pid"

    def log(self, directory: Path) -> Path:
        return directory / f"{self.name}.log"


def master_url(port: int) -> str:
    return f"spark://{HOST}:{port}"


def daemons(port: int, webui_port: int, worker_webui_ports: tuple[int, ...], directory: Path) -> list[Daemon]:
    """The master, then one worker per web UI port, each with its own work directory (executors' logs)."""
    master = Daemon("master", MASTER_CLASS, ("--host", HOST, "--port", str(port), "--webui-port", str(webui_port)))
    workers = [
        Daemon(
            f"worker-{n}",
            WORKER_CLASS,
            (master_url(port), "--host", HOST, "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY, "--webui-port", str(ui), "--work-dir", str(directory / f"worker-{n}")),
        )
        for n, ui in enumerate(worker_webui_ports, start=1)
    ]
    return [master, *workers]


def _process_of(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process still runs the daemon written there (a recycled pid
    belongs to someone else and is never signalled), else None."""
    try:
        pid, main_class = pid_file.read_text().split()
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    # A zombie (state Z, after the closing parenthesis of its name) has exited already.
    if stat.rsplit(")", 1)[1].split()[0] == "Z" or main_class.encode() not in cmdline:
        return None
    return int(pid)


def _start(daemon: Daemon, directory: Path, env: dict[str, str]) -> None:
    # spark-class execs the JVM, so the pid is the daemon's own; its own session outlives `make`.
    with daemon.log(directory).open("ab") as log:
        process = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), daemon.main_class, *daemon.args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    daemon.pid_file(directory).write_text(f"{process.pid} {daemon.main_class}\n")


def _cause(log: Path, lines: int = 10) -> str:
    """What a daemon's log says went wrong: its ERROR and exception lines, else its last lines."""
    try:
        said = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    errors = [line for line in said if " ERROR " in line or ("Exception" in line and not line.startswith("\t"))]
    return "\n".join((errors or said)[-lines:])


def master_state(webui_port: int) -> dict | None:
    """The master's JSON status (workers, active and completed applications), or None while it is not up."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{webui_port}/json/", timeout=2) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None


def _wait_for_workers(started: list[Daemon], directory: Path, webui_port: int, workers: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for daemon in started:
            if _process_of(daemon.pid_file(directory)) is None:
                raise RuntimeError(f"Spark {daemon.name} exited; from {daemon.log(directory)}:\n{_cause(daemon.log(directory))}")
        state = master_state(webui_port)
        if state is not None and sum(w["state"] == "ALIVE" for w in state["workers"]) >= workers:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Spark master did not report {workers} ALIVE workers within {START_TIMEOUT_S} s: see the logs in {directory}")


def start_spark(directory: Path, port: int, webui_port: int, worker_webui_ports: tuple[int, ...]) -> tuple[str, list[Path]]:
    """Start the master and the workers not running yet; return the master's URL, once it reports
    every worker ALIVE, and the pid files of the daemons this call started. When one fails to come
    up, what this call started is stopped again."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    env = spark_env(directory)
    started = []
    try:
        for daemon in daemons(port, webui_port, worker_webui_ports, directory):
            if _process_of(daemon.pid_file(directory)) is None:
                _start(daemon, directory, env)
                started.append(daemon)
        _wait_for_workers(started, directory, webui_port, len(worker_webui_ports))
    except BaseException:
        _stop([d.pid_file(directory) for d in reversed(started)])
        raise
    return master_url(port), [d.pid_file(directory) for d in reversed(started)]


def _stop(pid_files: list[Path]) -> None:
    """SIGTERM each daemon by its pid file, in order, and wait until it is gone (SIGKILL after
    the timeout); the pid file goes with it."""
    for pid_file in pid_files:
        if (pid := _process_of(pid_file)) is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _process_of(pid_file) is not None:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    deadline = float("inf")
                time.sleep(0.2)
        pid_file.unlink(missing_ok=True)


def stop_spark(directory: Path) -> None:
    """Stop every Spark daemon with a pid file in `directory`: the workers (and their executors), then the master."""
    pid_files = sorted(directory.resolve().glob("*.pid"), key=lambda p: p.stem == "master")
    _stop(pid_files)


def up(directory: Path, port: int, webui_port: int, worker_webui_ports: tuple[int, ...], postgres_port: int | None) -> dict[str, str]:
    """Start the cluster (and PostgreSQL unless `postgres_port` is None); return the settings a run
    uses. When PostgreSQL fails to start, the Spark daemons this call started are stopped again:
    a start that fails halfway leaves nothing of its own running."""
    directory = directory.resolve()
    master, started = start_spark(directory, port, webui_port, worker_webui_ports)
    found = {settings.ENGINE.name: "spark", settings.SPARK_MASTER.name: master}
    if postgres_port is not None:
        marker = None
        try:
            pg_dir = postgres.default_dir()
            if not postgres.running(pg_dir):
                marker = directory / POSTGRES_MARKER
                marker.write_text(str(pg_dir.resolve()))
            found |= {settings.DAGSTER_STORAGE.name: "postgres", settings.DAGSTER_PG_URL.name: postgres.start(pg_dir, postgres_port)}
        except BaseException:
            # postgres.start stops a server it started; the daemons started here go too.
            _stop(started)
            if marker is not None:
                marker.unlink(missing_ok=True)
            raise
    return found


def down(directory: Path) -> None:
    """Stop what `up` started in `directory`; nothing to do when it is stopped already."""
    directory = directory.resolve()
    stop_spark(directory)
    marker = directory / POSTGRES_MARKER
    if marker.exists():
        postgres.stop(Path(marker.read_text()))
        marker.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="pid files, logs and the workers' directories")
    # The ports are the Makefile's (SPARK_PORT, SPARK_WEBUI_PORT, SPARK_WORKER_WEBUI_PORTS, POSTGRES_PORT), given by `make cluster-up`.
    parser.add_argument("--port", type=int, help="the master's port")
    parser.add_argument("--webui-port", type=int, help="the master's web UI (its JSON at /json/)")
    parser.add_argument("--worker-webui-ports", type=int, nargs="+", help="one worker per port")
    parser.add_argument("--postgres-port", type=int, help="PostgreSQL's port (or --no-postgres)")
    parser.add_argument("--no-postgres", action="store_true", help="the Spark cluster only")
    args = parser.parse_args()
    if args.action == "down":
        down(args.dir)
        return
    missing = [f"--{name.replace('_', '-')}" for name in ("port", "webui_port", "worker_webui_ports") if getattr(args, name) is None]
    if missing or (args.postgres_port is None and not args.no_postgres):
        parser.error(f"up needs {', '.join(missing or ['--postgres-port (or --no-postgres)'])}")
    try:
        found = up(args.dir, args.port, args.webui_port, tuple(args.worker_webui_ports), None if args.no_postgres else args.postgres_port)
    except (FileNotFoundError, RuntimeError) as error:
        raise SystemExit(f"The cluster did not start: {error}") from None
    print(f"Spark master {found[settings.SPARK_MASTER.name]} with {len(args.worker_webui_ports)} workers, web UI http://{HOST}:{args.webui_port}; logs in {args.dir}")
    if settings.DAGSTER_PG_URL.name in found:
        print(f"PostgreSQL's password is in {postgres.password_file(postgres.default_dir())} (0600), named by {settings.DAGSTER_PG_URL.name}")
    print("Run on it with:\nexport " + " ".join(f"{k}={shlex.quote(v)}" for k, v in found.items()))


if __name__ == "__main__":
    main()
