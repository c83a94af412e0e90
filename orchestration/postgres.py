"""A local PostgreSQL server for Dagster's instance: `make postgres-up` / `make postgres-down`.

It listens on 127.0.0.1 only, keeps its data, log and socket in one directory, and is stopped by
`pg_ctl stop` on that directory (its pid file). PostgreSQL refuses to run as root, so as root the
server runs as the `postgres` system user, who then owns the directory.
"""

import argparse
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from orchestration import settings

DEFAULT_DIR = settings.REPO_ROOT / ".cache" / "postgres"
DEFAULT_PORT = 5433
SERVER_USER = "postgres"
DATABASE = "dagster"


def bindir() -> Path:
    """Where initdb and pg_ctl are: pg_config's answer, else Debian's versioned directory."""
    if pg_config := shutil.which("pg_config"):
        found = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        if (found / "initdb").exists():
            return found
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's `postgresql` package")


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> str:
    """Run a PostgreSQL tool (as the server user when root); its own message when it fails."""
    done = subprocess.run(_as_server_user(cmd), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def url(port: int, host: str = "127.0.0.1") -> str:
    # psycopg2, named: SQLAlchemy 2.1 would pick psycopg 3, with which Dagster's NOTIFY fails.
    return f"postgresql+psycopg2://{SERVER_USER}@{host}:{port}/{DATABASE}"


def running(directory: Path) -> bool:
    """Whether the server whose data is under `directory` runs (pg_ctl status reads its pid file)."""
    data = directory.resolve() / "data"
    return subprocess.run(_as_server_user([str(bindir() / "pg_ctl"), "status", "-D", str(data)]), capture_output=True).returncode == 0


def start(directory: Path, port: int) -> str:
    """Create the cluster on first use (every parent of `directory` must be traversable by the server
    user), start it on 127.0.0.1:`port` unless it runs, create the database; return its URL."""
    directory = directory.resolve()
    data, log = directory / "data", directory / "server.log"
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise RuntimeError(f"PostgreSQL refuses to run as root and there is no `{SERVER_USER}` user: run as another user") from None
        os.chown(directory, user.pw_uid, user.pw_gid)
    directory.chmod(0o700)
    bin_ = bindir()
    if not (data / "PG_VERSION").exists():
        _run([str(bin_ / "initdb"), "-D", str(data), "-U", SERVER_USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
    if not running(directory):
        options = f"-h 127.0.0.1 -p {port} -k {directory}"
        _run([str(bin_ / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-o", options])
    server = ["-h", "127.0.0.1", "-p", str(port), "-U", SERVER_USER]
    if not _run([str(bin_ / "psql"), *server, "-d", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"]).strip():
        _run([str(bin_ / "createdb"), *server, DATABASE])
    return url(port)


def stop(directory: Path) -> None:
    """Stop the server whose data is under `directory`, if it runs (pg_ctl reads its pid file)."""
    data = directory.resolve() / "data"
    if (data / "postmaster.pid").exists():
        _run([str(bindir() / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    if args.action == "up":
        print(f"PostgreSQL for the Dagster instance: export DEI_DAGSTER_PG_URL={start(args.dir, args.port)}")
    else:
        stop(args.dir)


if __name__ == "__main__":
    main()
