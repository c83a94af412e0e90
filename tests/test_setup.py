"""`make`'s setup on a stock machine: uv bootstrapped without touching the system Python, and the
user's own Dagster instance respected."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.e2e

SYSTEM_PYTHON = Path("/usr/bin/python3")
STOCK_PATH = "/usr/bin:/bin"  # no uv there: what a stock Debian or Ubuntu has


def _system(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SYSTEM_PYTHON), "-c", code], capture_output=True, text=True)


def _externally_managed() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    stdlib = _system("import sysconfig; print(sysconfig.get_path('stdlib'))").stdout.strip()
    return (Path(stdlib) / "EXTERNALLY-MANAGED").exists()


needs_managed_python = pytest.mark.skipif(
    not _externally_managed() or shutil.which("uv", path=STOCK_PATH) is not None,
    reason="needs an externally managed (PEP 668) /usr/bin/python3 and no uv in /usr/bin",
)


def _repo_copy(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "scripts" / "uv", tmp_path / "scripts" / "uv")
    return tmp_path


def _site_packages() -> dict[str, list[str]]:
    dirs = _system("import site, sysconfig; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages(), sysconfig.get_path('purelib')]))").stdout.split()
    return {d: sorted(os.listdir(d)) if os.path.isdir(d) else [] for d in dirs}


@needs_managed_python
def test_uv_is_bootstrapped_in_a_private_venv_for_an_externally_managed_python(tmp_path):
    assert "externally-managed-environment" in subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "uv"], capture_output=True, text=True).stderr, (
        "pip may install into this Python: it is not externally managed"
    )
    assert _system("import uv").returncode != 0, "uv is already installed in the system Python"
    repo = _repo_copy(tmp_path)
    before = _site_packages()
    env = {"PATH": STOCK_PATH, "HOME": str(tmp_path), "PYTHON": str(SYSTEM_PYTHON)}
    first = subprocess.run([str(repo / "scripts" / "uv"), "--version"], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("uv "), first.stdout
    assert "private virtual environment" in first.stderr
    assert (repo / ".cache" / "uv-bootstrap" / "bin" / "uv").exists()
    # Nothing went into the system: its site-packages are as they were and it still has no uv.
    assert _site_packages() == before
    assert _system("import uv").returncode != 0
    # The next call uses the bootstrapped uv without installing again.
    second = subprocess.run([str(repo / "scripts" / "uv"), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and second.stderr == "" and second.stdout == first.stdout


@needs_managed_python
def test_without_venv_support_it_stops_with_the_command_that_fixes_it(tmp_path):
    # A Debian without python3-venv: the system Python, whose `-m venv` fails for want of ensurepip.
    python = tmp_path / "python3"
    python.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "venv" ]; then echo "ensurepip is not available" >&2; exit 1; fi\nexec {SYSTEM_PYTHON} "$@"\n')
    python.chmod(0o755)
    repo = _repo_copy(tmp_path / "repo")
    result = subprocess.run([str(repo / "scripts" / "uv"), "--version"], env={"PATH": STOCK_PATH, "PYTHON": str(python)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("sudo apt-get install python3-venv")
    assert not (repo / ".cache" / "uv-bootstrap").exists()


def _make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # not the `make test` running this
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO_ROOT), *args], env=env, capture_output=True, text=True, timeout=60)


def _print_home(env: dict[str, str]) -> str:
    result = _make("--eval", "print-home: ; @echo $(DAGSTER_HOME) $$DAGSTER_HOME", "print-home", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_dagster_home_from_the_environment_wins(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # `make test` sets it for its own run
    default = REPO_ROOT / ".dagster_home"
    assert _print_home(env) == f"{default} {default}"
    assert _print_home({**env, "DAGSTER_HOME": ""}) == f"{default} {default}"
    assert _print_home({**env, "DAGSTER_HOME": str(tmp_path)}) == f"{tmp_path} {tmp_path}"


def test_a_users_dagster_yaml_is_never_overwritten(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.utime(mine / "dagster.yaml", (0, 0))  # older than the repo's dagster.yaml
    assert _make(f"{mine}/dagster.yaml", env={**env, "DAGSTER_HOME": str(mine)}).returncode == 0
    assert (mine / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    # A new instance gets the repo's settings (the warehouse pool's limit).
    new = tmp_path / "new"
    assert _make(f"{new}/dagster.yaml", env={**env, "DAGSTER_HOME": str(new)}).returncode == 0
    assert (new / "dagster.yaml").read_text() == (REPO_ROOT / "dagster.yaml").read_text()


def test_a_new_instance_on_postgres_gets_the_postgres_storage(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    new = tmp_path / "new"
    assert _make(f"{new}/dagster.yaml", env={**env, "DAGSTER_HOME": str(new), "DEI_DAGSTER_STORAGE": "postgres"}).returncode == 0
    written = (new / "dagster.yaml").read_text()
    assert written == (REPO_ROOT / "dagster.yaml").read_text() + (REPO_ROOT / "dagster-postgres.yaml").read_text()
    assert "env: DEI_DAGSTER_PG_URL" in written
