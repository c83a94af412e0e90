"""A local PostgreSQL server for Dagster's instance: `make postgres-up` / `make postgres-down`.

It listens on 127.0.0.1 only, keeps its data, log, socket and password file in one directory, and is
stopped by `pg_ctl stop` on that directory (its pid file). Every connection, TCP or socket, needs
the superuser's password (scram-sha-256): generated once, kept in a file only its owner reads,
which the instance's URL names (libpq's `passfile`), so the password itself is never in the URL,
the environment or a command line. PostgreSQL refuses to run as root, so as root the server runs as
the `postgres` system user, who then owns the directory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from orchestration import settings

SERVER_USER = "postgres"
DATABASE = "dagster"
# libpq's password file format (host:port:database:user:password), read through the URL's passfile.
PASSWORD_FILE = "pgpass"
# Written on every start, so that no server of ours ever runs with an older or looser file.
PG_HBA = """\
# Written by orchestration/tools/postgres.py on every start: a password (scram-sha-256) for every connection.
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
"""


def _as_root() -> bool:
    return os.geteuid() == 0


def default_dir() -> Path:
    """The server's directory (settings.POSTGRES_DIR). Default `.cache/postgres` in the checkout; as
    root, where the server runs as the `postgres` user, who may not be allowed into the checkout (a
    `mktemp -d` directory, root's home), a directory for this checkout in that user's home, unless
    `.cache/postgres` already holds a cluster."""
    if configured := settings.POSTGRES_DIR.value():
        return (settings.REPO_ROOT / configured).resolve()  # an absolute path stays itself
    in_checkout = settings.REPO_ROOT / ".cache" / "postgres"
    if not _as_root() or (in_checkout / "data" / "PG_VERSION").exists():
        return in_checkout
    try:
        home = Path(pwd.getpwnam(SERVER_USER).pw_dir)
    except KeyError:
        return in_checkout  # start() says that there is no server user
    checkout = hashlib.sha256(str(settings.REPO_ROOT).encode()).hexdigest()[:12]
    return home / "dei-warehouse" / f"{settings.REPO_ROOT.name}-{checkout}"


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
    return ["runuser", "-u", SERVER_USER, "--", *cmd] if _as_root() else cmd


def _run(cmd: list[str], stdin: str | None = None, env: dict[str, str] | None = None, as_server: bool = True) -> str:
    """Run a PostgreSQL tool (the server's as the server user when root, a client as whoever runs
    this); its own message when it fails."""
    done = subprocess.run(_as_server_user(cmd) if as_server else cmd, input=stdin, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def password_file(directory: Path) -> Path:
    return directory.resolve() / PASSWORD_FILE


def url(directory: Path, port: int, host: str = "127.0.0.1") -> str:
    # psycopg2, named: SQLAlchemy 2.1 would pick psycopg 3, with which Dagster's NOTIFY fails.
    return URL.create(
        "postgresql+psycopg2",
        username=SERVER_USER,
        host=host,
        port=port,
        database=DATABASE,
        query={"passfile": str(password_file(directory))},
    ).render_as_string()


def running(directory: Path) -> bool:
    """Whether the server whose data is under `directory` runs (pg_ctl status reads its pid file)."""
    data = directory.resolve() / "data"
    return subprocess.run(_as_server_user([str(bindir() / "pg_ctl"), "status", "-D", str(data)]), capture_output=True).returncode == 0


def _own(directory: Path) -> None:
    """`directory` the server user's alone (0700), and reachable by it through every parent."""
    if _as_root():
        try:
            user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise RuntimeError(f"PostgreSQL refuses to run as root and there is no `{SERVER_USER}` user: run as another user") from None
        os.chown(directory, user.pw_uid, user.pw_gid)
    directory.chmod(0o700)
    if subprocess.run(_as_server_user(["test", "-w", str(directory), "-a", "-x", str(directory)])).returncode != 0:
        raise RuntimeError(
            f"the `{SERVER_USER}` user cannot enter {directory} (a parent directory is closed to it): "
            f"set {settings.POSTGRES_DIR.name} to a directory it can reach, or leave it unset"
        )


def _set_password(directory: Path, bin_: Path) -> None:
    """Give the superuser a new generated password, in single-user mode (the server stopped), then
    write it to the password file, 0600 from its creation: a cluster without one, new or made
    before passwords, gets one."""
    password = secrets.token_urlsafe(32)  # letters, digits, - and _: nothing to quote in SQL or in the file
    _run(
        [str(bin_ / "postgres"), "--single", "-D", str(directory / "data"), "-F", "-c", "exit_on_error=true", "postgres"],
        stdin=f"ALTER ROLE {SERVER_USER} PASSWORD '{password}';\n",
    )
    pending = directory / f".{PASSWORD_FILE}.new"
    pending.unlink(missing_ok=True)
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"*:*:*:{SERVER_USER}:{password}\n")
    pending.replace(password_file(directory))


def start(directory: Path, port: int) -> str:
    """Create the cluster on first use, start it on 127.0.0.1:`port` unless it runs, create the
    database; return its URL. When a step fails, a server this call started is stopped again."""
    directory = directory.resolve()
    data, log = directory / "data", directory / "server.log"
    directory.mkdir(parents=True, exist_ok=True)
    _own(directory)
    bin_ = bindir()
    if not (data / "PG_VERSION").exists():
        # Nobody is let in until the password is set and the access rules are ours.
        _run([str(bin_ / "initdb"), "-D", str(data), "-U", SERVER_USER, "--auth=reject", "-E", "UTF8", "--no-sync"])
    if not password_file(directory).exists():
        stop(directory)  # a cluster made before passwords, perhaps running as `trust`
        _set_password(directory, bin_)
    (data / "pg_hba.conf").write_text(PG_HBA)  # initdb's file: its owner and mode stay the server user's
    started = not running(directory)
    try:
        if started:
            options = f"-h 127.0.0.1 -p {port} -k {directory}"
            _run([str(bin_ / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-o", options])
        else:
            _run([str(bin_ / "pg_ctl"), "reload", "-D", str(data)])
        # Clients, run as whoever runs this, with the password file.
        server = ["-h", "127.0.0.1", "-p", str(port), "-U", SERVER_USER]
        env = {**os.environ, "PGPASSFILE": str(password_file(directory))}
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
        if not _run([str(bin_ / "psql"), "-X", *server, "-d", "postgres", "-tAc", query], env=env, as_server=False).strip():
            _run([str(bin_ / "createdb"), *server, DATABASE], env=env, as_server=False)
    except BaseException:
        if started:
            stop(directory)
        raise
    return url(directory, port)


def stop(directory: Path) -> None:
    """Stop the server whose data is under `directory`, if it runs (pg_ctl reads its pid file)."""
    data = directory.resolve() / "data"
    if (data / "postmaster.pid").exists():
        _run([str(bindir() / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=None, help=f"the server's directory (default: {settings.POSTGRES_DIR.name}, else see default_dir)")
    parser.add_argument("--port", type=int, required=True, help="the server's port on 127.0.0.1 (make: POSTGRES_PORT, its default in the Makefile)")
    args = parser.parse_args()
    directory = args.dir or default_dir()
    if args.action == "down":
        stop(directory)
        return
    try:
        found = start(directory, args.port)
    except (FileNotFoundError, RuntimeError) as error:
        raise SystemExit(f"PostgreSQL did not start: {error}") from None
    print(f"PostgreSQL for the Dagster instance in {directory}; its password is in {password_file(directory)} (0600), named by the URL:")
    print(f"export {settings.DAGSTER_PG_URL.name}={shlex.quote(found)}")


if __name__ == "__main__":
    main()
