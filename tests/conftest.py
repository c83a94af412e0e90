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

# The tiers (pyproject.toml's markers): each test is in exactly one, by its module's `pytestmark`
# or, in a module that mixes them, by its own mark.
TIERS = ("unit", "integration", "spark", "e2e")
SLOWEST_FIRST = ("e2e", "spark", "integration", "unit")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport:
    """A test in no tier, or in two, is an error collecting its module: `make test-quick` selects
    by tier, and a test in none would silently be left out of it."""
    report = yield
    if report.passed:
        tiers = {item.nodeid: sorted({m.name for m in item.iter_markers()} & set(TIERS)) for item in report.result if isinstance(item, pytest.Function)}
        wrong = [f"{nodeid}: {', '.join(found) or 'none'}" for nodeid, found in tiers.items() if len(found) != 1]
        if wrong:
            report.outcome = "failed"
            report.longrepr = f"each test needs exactly one tier mark of {', '.join(TIERS)} (pyproject.toml's markers):\n  " + "\n  ".join(wrong)
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest tiers' modules first, the unit tests' last. Under `--dist loadfile
    --no-loadscope-reorder` (`make test`) each worker takes the next module when it runs short,
    so the long modules start early and the short ones fill in at the end, rather than a long one
    started last running on alone."""
    rank = {}
    for item in items:
        tier = next((m.name for m in item.iter_markers() if m.name in TIERS), "unit")
        rank[item.path] = min(rank.get(item.path, len(TIERS)), SLOWEST_FIRST.index(tier))
    items.sort(key=lambda item: rank[item.path])


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile` (`make test`), with the Spark test files (named `*spark*.py`) as one unit:
    one worker runs them one after the other in one JVM, which each would otherwise start and warm
    up again (the two files: 210 CPU-s in two processes, 178 in one)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SparkFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "spark" if "spark" in Path(scope).name else scope

    return SparkFilesTogether(config, log)


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


@pytest.fixture
def sample_warehouse(sample_run, tmp_path) -> Path:
    """A private copy of the sample run's warehouse dir (its working, history and published
    databases, exports and report), for a test that runs on from it or writes to it: the shared
    run stays as it was for the tests that read it."""
    _, warehouse = sample_run
    target = tmp_path / "warehouse"
    shutil.copytree(warehouse.warehouse_path, target)
    return target


@pytest.fixture(scope="session")
def published(sample_run) -> duckdb.DuckDBPyConnection:
    result, warehouse = sample_run
    assert result.success, "the sample run failed"
    con = duckdb.connect(str(warehouse.published_db), read_only=True)
    yield con
    con.close()


@pytest.fixture
def con(tmp_path) -> duckdb.DuckDBPyConnection:
    """A working database of the test's own, a file as the warehouse's is."""
    c = duckdb.connect(str(tmp_path / settings.WORKING_DB_NAME))
    yield c
    c.close()
