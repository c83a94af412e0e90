import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import settings
from orchestration.defs.partitions import all_months_tags
from orchestration.defs.resources import WarehouseResource

# The suite runs on the default engine whatever the shell exports; the Spark tests set their own.
for _name in ("DEI_ENGINE", "DEI_SPARK_MASTER", "DEI_LAKE_DIR"):
    os.environ.pop(_name, None)

SAMPLE_SOURCES = settings.REPO_ROOT / "sources"
FIXTURES = settings.REPO_ROOT / "tests" / "fixtures"


def land(fixtures: Path, sources_dir: Path) -> list[str]:
    """Copy landed files (a tree laid out like the sources dir) into a landing zone."""
    files = sorted(p.relative_to(fixtures).as_posix() for p in fixtures.rglob("*") if p.is_file())
    for rel in files:
        (sources_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(fixtures / rel, sources_dir / rel)
    return files


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a test's server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(server: subprocess.Popen) -> None:
    """Stop a server started in its own session, its children with it: politely, then for good."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


def run_pipeline(
    defs: dg.Definitions,
    sources_dir: Path,
    warehouse_dir: Path,
    selection=None,
    partition_key: str | None = None,
    run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
    tags: dict[str, str] | None = None,
    **config,
) -> dg.ExecuteInProcessResult:
    """Materialize the real assets and checks against a given landing dir and warehouse: one month
    (`partition_key`, e.g. 2020-04-01) or, as `make run` does, every landed month in one run; `tags`:
    run tags besides (e.g. the held files a data engineer confirms)."""
    resources = dict(defs.resources)
    resources["warehouse"] = WarehouseResource(sources_dir=str(sources_dir), warehouse_dir=str(warehouse_dir), **config)
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=resources,
        selection=selection,
        partition_key=partition_key,
        tags={**({} if partition_key else all_months_tags(sources_dir)), **(tags or {})} or None,
        run_config=run_config,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


@pytest.fixture
def sources_copy(tmp_path: Path) -> Path:
    """A private copy of the sample landing zone that a test may damage."""
    target = tmp_path / "sources"
    shutil.copytree(SAMPLE_SOURCES, target)
    return target


@pytest.fixture(scope="session")
def sample_run(defs, tmp_path_factory) -> tuple[dg.ExecuteInProcessResult, WarehouseResource]:
    """One full run of every asset and check on the committed sample, in a temporary warehouse."""
    warehouse_dir = tmp_path_factory.mktemp("warehouse")
    result = run_pipeline(defs, SAMPLE_SOURCES, warehouse_dir)
    return result, WarehouseResource(sources_dir=str(SAMPLE_SOURCES), warehouse_dir=str(warehouse_dir))


@pytest.fixture(scope="session")
def published(sample_run) -> duckdb.DuckDBPyConnection:
    result, warehouse = sample_run
    assert result.success, "the sample run failed"
    con = duckdb.connect(str(warehouse.published_db), read_only=True)
    yield con
    con.close()
