"""What the Makefile's targets run: the docs site that opens from its file, the UI's port, apt-get
through sudo for a user who is not root."""

import os
import subprocess
from pathlib import Path

import pytest

from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.e2e


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600)


def test_make_docs_builds_a_site_that_opens_from_its_file(tmp_path):
    run = make("docs", env={"DEI_WAREHOUSE_DIR": str(tmp_path)})  # no warehouse: the docs without a catalog
    assert run.returncode == 0, run.stderr[-2000:]
    assert "open dbt_project/target/docs/static_index.html in a browser" in run.stdout
    page = (REPO_ROOT / "dbt_project" / "target" / "docs" / "static_index.html").read_text()
    # The manifest is inside the page (no request for manifest.json, which a file:// page cannot make).
    assert '"model.digital_economy.onboarding_rate"' in page and '"onboarding_rate_pct"' in page


def test_make_docs_serve_and_ui_bind_loopback_on_the_port_given():
    serve = make("-n", "docs-serve", "DOCS_PORT=8599").stdout.splitlines()[-1]
    assert serve.endswith("dbt docs serve --host 127.0.0.1 --port 8599 --no-browser --profiles-dir .")
    ui = make("-n", "ui", "UI_PORT=3999").stdout.splitlines()[-1]
    assert ui.endswith("/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3999")
    assert ui.startswith("PYTHONWARNINGS='ignore:Function `dev_command` is superseded:FutureWarning' ")


def test_apt_get_goes_through_sudo_unless_root(tmp_path: Path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "id").write_text("#!/bin/sh\necho 1000\n")
    (fake / "id").chmod(0o755)
    as_user = make("-n", "-B", "chromium", env={"PATH": f"{fake}:{os.environ['PATH']}"}).stdout
    assert "{ sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }" in as_user
    if os.getuid() == 0:
        as_root = make("-n", "-B", "chromium").stdout
        assert "{ env DEBIAN_FRONTEND=noninteractive apt-get update -qq && " in as_root and "sudo" not in as_root


def test_make_run_installs_the_duckdb_pipeline_and_settings_add_what_they_need():
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    main = " ".join(project["dependencies"])
    for tool in ("pyspark", "dbt-spark", "dagster-postgres", "psycopg", "dagster-webserver", "playwright", "ruff", "sqlfluff", "py-spy", "pytest"):
        assert tool not in main, tool
    assert set(project["optional-dependencies"]) == {"ui", "spark", "postgres"}

    def installs(*args: str) -> list[str]:
        out = make("-n", "-W", "pyproject.toml", *args).stdout
        return [line.split(" sync ")[1] for line in out.splitlines() if " sync " in line]

    assert installs("setup") == ["--frozen --inexact --no-dev --quiet"]
    assert installs("setup", "DEI_ENGINE=spark", "DEI_DAGSTER_STORAGE=postgres")[1:] == [
        "--frozen --inexact --no-dev --extra spark --quiet",
        "--frozen --inexact --no-dev --extra postgres --quiet",
    ]
    assert installs("cluster-up")[1:] == ["--frozen --inexact --no-dev --extra spark --quiet", "--frozen --inexact --no-dev --extra postgres --quiet"]
    assert installs("ui")[1:] == ["--frozen --inexact --no-dev --extra ui --quiet"]
    assert "--frozen --inexact --all-extras --group dev --quiet" in installs("lint")


def test_uv_uses_the_system_certificate_store(tmp_path: Path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "uv").write_text('#!/bin/sh\necho "UV_SYSTEM_CERTS=$UV_SYSTEM_CERTS UV_NATIVE_TLS=$UV_NATIVE_TLS"\n')
    (fake / "uv").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    run = subprocess.run([str(REPO_ROOT / "scripts" / "uv"), "--version"], env={**env, "PATH": f"{fake}:/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    assert run.stdout == "UV_SYSTEM_CERTS=1 UV_NATIVE_TLS=1\n"
