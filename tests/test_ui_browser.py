"""End to end in a real browser: the Dagster UI after `make run` shows the lineage, the run and the charts.

Drives Debian's Chromium with Playwright (never a downloaded browser). Screenshots go to
test-output/browser/. Skip locally with `pytest -m "not browser"`; `make test` and CI run it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from orchestration.settings import REPO_ROOT
from tests.conftest import SAMPLE_SOURCES, free_port, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
SHOTS = REPO_ROOT / "test-output" / "browser"
# Each asset's checks and the status of their latest execution, as the checks tab shows them.
CHECK_STATUSES = "{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } } } }"


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """`make run` then `make ui`, against a temporary instance and warehouse."""
    assert CHROMIUM.exists(), "Debian's chromium is needed: apt-get install chromium (make test does it)"
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "DEI_SOURCES_DIR": str(SAMPLE_SOURCES), "DEI_WAREHOUSE_DIR": str(root / "warehouse")}
    subprocess.run([sys.executable, "-m", "orchestration.cli", "run"], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while not _code_location_loaded(url):
        assert server.poll() is None and time.monotonic() < deadline, "dagster dev did not load the code location"
        time.sleep(1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield url
    finally:
        stop_server(server)


def _graphql(url: str, query: str) -> dict:
    """What the UI's own GraphQL endpoint answers (the pages are drawn from it)."""
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


def _code_location_loaded(url: str) -> bool:
    try:
        entries = _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }")["workspaceOrError"]["locationEntries"]
    except (OSError, KeyError, TypeError, ValueError):
        return False
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


@pytest.fixture(scope="module")
def page(ui):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1200})
        page.set_default_timeout(60_000)
        page.goto(f"{ui}/runs")
        _skip_community_dialog(page)
        yield page
        browser.close()


def _skip_community_dialog(page) -> None:
    """The UI asks a first visitor to join its community, once per browser profile: skipped here,
    before the tests, so that none waits for a dialog that will not come again."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=10_000)
        skip.click()
    except Exception:  # not asked (a later UI version)
        pass


def test_lineage_shows_every_asset(ui, page, defs):
    # The graph draws only the nodes in view: a tall page keeps every node in it.
    page.set_viewport_size({"width": 3000, "height": 8000})
    page.goto(f"{ui}/asset-groups")
    page.get_by_text("Global asset lineage").first.wait_for()
    page.wait_for_timeout(3000)  # the graph lays out its (collapsed) groups
    page.mouse.click(2600, 7800, button="right")  # the graph's context menu
    page.get_by_text("Expand all groups").locator("visible=true").first.click()
    expected = [key.path[-1] for key in defs.resolve_all_asset_keys()]  # raw/ and marts/provinces share a name
    nodes = page.locator("[class*='AssetNode_assetName']")
    deadline = time.monotonic() + 30
    while nodes.count() < len(expected) and time.monotonic() < deadline:
        time.sleep(0.5)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "lineage.png"))
    shown = nodes.all_inner_texts()
    # Long names are shortened with an ellipsis in the middle at this zoom.
    patterns = [re.compile("^" + ".*".join(re.escape(part) for part in label.split("…")) + "$") for label in shown]
    missing = [name for name in expected if not any(p.match(name) for p in patterns)]
    page.set_viewport_size({"width": 1920, "height": 1200})
    assert missing == [] and len(shown) == len(expected), (missing, shown)


def test_last_run_succeeded(ui, page):
    page.goto(f"{ui}/runs")
    page.get_by_text("indicators_job").first.wait_for()
    page.screenshot(path=str(SHOTS / "runs.png"))
    # The instance holds the one run made by `make run`: its row shows the job and its status.
    assert page.get_by_text("indicators_job", exact=True).count() == 1
    assert page.get_by_text("Success", exact=True).count() == 1
    assert page.get_by_text("Failure", exact=True).count() == 0


def test_mart_page_shows_its_chart(ui, page):
    page.goto(f"{ui}/assets/marts/sales_growth?view=events")
    page.get_by_text("[Show Markdown]").first.click()
    chart = page.locator("img[src^='data:image/png']").first
    chart.wait_for(state="visible")
    width, height = chart.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    page.screenshot(path=str(SHOTS / "mart_chart.png"))
    assert width > 400 and height > 200


def test_automation_lists_the_sensor_and_the_schedule(ui, page):
    page.goto(f"{ui}/automation")
    page.get_by_text("landing_sensor").first.wait_for()
    page.get_by_text("monthly_schedule").first.wait_for()
    page.screenshot(path=str(SHOTS / "automation.png"))


def test_sales_shows_its_monthly_partitions(ui, page):
    page.goto(f"{ui}/assets/raw/sales?view=partitions")
    # Monthly over the sample's declared reporting period, 2019-01 to 2020-12: make run materialized
    # every one, and none shows as missing that no file could fill.
    page.get_by_text("Materialized (24)").first.wait_for()
    page.screenshot(path=str(SHOTS / "sales_partitions.png"))
    assert page.get_by_text("24 Partitions Selected").count() == 1
    assert page.get_by_text("Missing (0)", exact=True).count() == 1 and page.get_by_text("Failed (0)", exact=True).count() == 1
    assert page.get_by_text("2019-01-01").count() >= 1


def test_a_first_run_shows_every_asset_materialized_and_no_failed_check(ui, page, defs):
    assets = defs.resolve_all_asset_keys()
    partitioned = [key for key in assets if defs.resolve_assets_def(key).partitions_def is not None]
    page.set_viewport_size({"width": 1920, "height": 60 * len(assets) + 400})  # every row of the catalog in view
    page.goto(f"{ui}/assets")
    # Each unpartitioned asset is materialized; each partitioned one has all its 24 months. The
    # catalog fills its rows in as their statuses arrive.
    expected = (len(assets) - len(partitioned), len(partitioned), len(partitioned))
    deadline = time.monotonic() + 60
    while True:
        counts = tuple(page.get_by_text(text, exact=True).count() for text in ("Materialized", "24 partitions", "All"))
        if counts == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    page.screenshot(path=str(SHOTS / "catalog.png"))
    page.set_viewport_size({"width": 1920, "height": 1200})
    assert counts == expected
    # Every check of every asset passed, the sales freshness check included (the sample ends in 2020,
    # and is judged at the end of its declared reporting period): as the UI's server answers for every
    # asset's checks tab, and as one tab shows it.
    nodes = _graphql(ui, CHECK_STATUSES)["assetNodes"]
    statuses = {
        (tuple(node["assetKey"]["path"]), check["name"]): (check["executionForLatestMaterialization"] or {}).get("status")
        for node in nodes
        for check in node["assetChecksOrError"].get("checks", [])
    }
    expected = {(tuple(check.asset_key.path), check.name) for check in defs.resolve_asset_graph().get_check_keys_for_assets(set(assets))}
    assert set(statuses) == expected
    assert {check: status for check, status in statuses.items() if status != "SUCCEEDED"} == {}
    sales_checks = [name for (path, name) in statuses if path == ("raw", "sales")]
    page.goto(f"{ui}/assets/raw/sales?view=checks")
    page.get_by_text(f"Checks ({len(sales_checks)})").first.wait_for()
    page.get_by_text("Succeeded", exact=True).nth(len(sales_checks) - 1).wait_for()
    page.screenshot(path=str(SHOTS / "sales_checks.png"))
    assert page.get_by_text("Succeeded", exact=True).count() == len(sales_checks)


def test_the_job_and_the_timeline_list_the_run_and_an_indicator_shows_only_its_feeds(ui, page):
    # `make run`'s run belongs to indicators_job in the code location, as one launched from the UI.
    page.goto(f"{ui}/locations/indicators/jobs/indicators_job/runs")
    page.get_by_text("Success", exact=True).first.wait_for()
    page.screenshot(path=str(SHOTS / "job_runs.png"))
    assert page.get_by_text("No runs found").count() == 0
    page.goto(f"{ui}/overview/activity/timeline")
    page.get_by_text("indicators_job").first.wait_for()
    page.screenshot(path=str(SHOTS / "timeline.png"))
    # The upstream of an indicator's mart: its feeds (and the onboarding feed's part of the load audit), no other.
    page.goto(f"{ui}/assets/marts/onboarding_rate?view=lineage&lineageScope=upstream&lineageDepth=20")
    nodes = page.locator("[class*='AssetNode_assetName']")
    nodes.filter(has_text="population").first.wait_for()
    page.wait_for_timeout(2000)
    page.screenshot(path=str(SHOTS / "onboarding_rate_upstream.png"))
    names = set(nodes.all_inner_texts())
    assert {"onboarding", "population", "provinces", "onboarding_files", "onboarding_rate"} <= names, names
    assert not names & {"sales", "claims", "gdp", "training_programs", "training_registrations", "platforms", "sales_files", "loaded_files"}, names


def test_a_rate_shows_the_raw_columns_it_is_computed_from(ui, page):
    # The open-source UI draws no column lineage graph: the mart's column_sources table follows
    # each column through the recorded column lineage to the raw (and audit) columns.
    page.goto(f"{ui}/assets/marts/onboarding_rate")
    row = page.locator("tr", has=page.get_by_text("column_sources", exact=True)).first
    row.get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("onboarding_rate_pct", exact=True).wait_for()
    page.screenshot(path=str(SHOTS / "onboarding_rate_column_sources.png"))
    shown = dialog.inner_text()
    (rate,) = [line for line in shown.splitlines() if line.startswith("onboarding_rate_pct")]
    assert "raw/onboarding.newly_onboarded" in rate and "raw/population.enterprises" in rate, rate
