"""`make dashboard` end to end: the committed bundle in a real Superset, its charts' data checked
against the published marts, and the dashboard in Chromium.

Superset runs from its own environment (installed by `orchestration.tools.dashboard.install`, once), with
its own temporary home, on 127.0.0.1, stopped at the end. Marked `browser`: `make test-quick` skips it.
"""

import csv
import datetime as dt
import hashlib
import http.cookiejar
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import duckdb
import pytest
import yaml
from playwright.sync_api import sync_playwright

from orchestration.settings import REPO_ROOT
from orchestration.tools import dashboard
from tests.conftest import free_port, stop_server
from tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SHOTS = REPO_ROOT / "test-output" / "dashboard"
SLUG = dashboard.DASHBOARD_SLUG


@pytest.fixture(scope="module")
def superset(sample_run, tmp_path_factory):
    """Superset prepared as `make dashboard` does, on the sample run's published database."""
    result, warehouse = sample_run
    assert result.success, "the sample run failed"
    timings = {}
    started = time.monotonic()
    dashboard.install()
    timings["install"] = time.monotonic() - started
    home = tmp_path_factory.mktemp("superset_home")
    started = time.monotonic()
    dashboard.prepare(home, warehouse.published_db)
    timings["prepare"] = time.monotonic() - started
    port = free_port()
    server = subprocess.Popen(
        dashboard.serve_command(port),
        env=dashboard.superset_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while not _healthy(url):
        assert server.poll() is None and time.monotonic() - started < 120, "Superset did not start"
        time.sleep(0.5)
    timings["start"] = time.monotonic() - started
    print("\nsuperset " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()))
    try:
        yield url, (home / "admin_password").read_text(), warehouse.published_db, home
    finally:
        stop_server(server)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _api(url: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:  # a GET with a JSON content type and no body is a bad request to Superset
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{url}{path}", data=data, headers=headers), timeout=60) as response:
        return json.load(response)


def _login(url: str, password: str) -> str:
    return _api(url, "/api/v1/security/login", body={"username": dashboard.ADMIN, "password": password, "provider": "db"})["access_token"]


def _chart_data(superset) -> dict[str, list[dict]]:
    """Every chart of the dashboard, by name: the rows Superset's chart data API answers."""
    url, password, *_ = superset
    token = _login(url, password)
    charts = _api(url, f"/api/v1/dashboard/{SLUG}/charts", token)["result"]
    out = {}
    for chart in charts:
        [result] = _api(url, f"/api/v1/chart/{chart['id']}/data/", token)["result"]
        assert result["status"] == "success" and result["error"] is None, (chart["slice_name"], result)
        out[chart["slice_name"]] = result["data"]
    return out


def _month(epoch_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).date()


def test_every_chart_answers_with_the_published_figures(superset):
    data = _chart_data(superset)
    con = duckdb.connect(str(superset[2]), read_only=True)

    def series(code, size_class="_T", by_size=False):
        return {
            ((row[0], row[1]) if by_size else row[0]): row[2]
            for row in con.execute(
                "SELECT period_start, size_class, obs_value FROM marts.indicators WHERE indicator_code = ? AND ref_area = 'ID' AND breakdown = '_T' AND (? OR size_class = ?)",
                [code, by_size, size_class],
            ).fetchall()
        }

    # The committed charts whose indicators have rows: the sample's five and the published tables' three.
    shown = {yaml.safe_load(text)["slice_name"] for rel, text in dashboard.bundle(superset[2]).items() if rel.startswith("charts/")}
    assert set(data) == shown and len(shown) == 8

    def map_named(prefix):
        # A map's title names its period and the ends of its colour scale (the map draws no legend).
        (title,) = [t for t in data if t.startswith(prefix)]
        assert re.fullmatch(r".*: from [0-9.]+ \(lightest\) to [0-9.]+ \(darkest\)", title), title
        return title

    sales = {_month(r["period_start"]): r["Online sales (IDR)"] for r in data["National online sales (IDR)"]}
    assert sales == series("ONLINE_SALES") and len(sales) == 24
    assert sales[dt.date(2020, 4, 1)] == pytest.approx(11.6e9)  # the sample's calibration: IDR 11.6 bn
    growth = {_month(r["period_start"]): r["MoM growth (%)"] for r in data["National online sales, month-on-month growth (%)"]}
    assert growth == series("ONLINE_SALES_GROWTH_MOM")
    assert growth[dt.date(2019, 1, 1)] is None  # the month before the data: not collected, not zero

    names = dict(con.execute("SELECT code, label FROM marts.code_labels WHERE code_list = 'SIZE_CLASS'").fetchall())
    expected = {(period, names[size]): value for (period, size), value in series("ONBOARDING_RATE", by_size=True).items()}
    rates = {(_month(r["period_start"]), r["size_class_name"]): r["Onboarding rate (%)"] for r in data["Onboarding rate by size class (%)"]}
    assert rates == expected and len({size for _, size in rates}) == 5

    by_province = dict(
        con.execute(
            "SELECT p.iso_3166_2, i.obs_value FROM marts.indicators i JOIN marts.provinces p ON p.bps_code = i.ref_area "
            "WHERE i.indicator_code = 'ONBOARDING_RATE' AND i.size_class = '_T' AND i.breakdown = '_T' "
            "AND i.period_start = (SELECT max(period_start) FROM marts.indicators WHERE indicator_code = 'ONBOARDING_RATE')"
        ).fetchall()
    )
    shown = {r["ref_area_iso_code"]: r["Onboarding rate (%)"] for r in data[map_named("Onboarding rate by province, 2020-12 (%): from ")]}
    assert shown == by_province and len(shown) == 34  # the provinces of 2020, the sample's last year

    training = dict(
        ((name, indicator), value)
        for name, indicator, value in con.execute(
            "SELECT t.program_name, c.indicator_name, i.obs_value FROM marts.indicators i "
            "JOIN marts.training_uptake t ON t.program_id = i.breakdown JOIN marts.indicator_catalog c USING (indicator_code) "
            "WHERE i.indicator_code IN ('TRAINING_REGISTRATIONS', 'TRAINING_CAPACITY')"
        ).fetchall()
    )
    bars = {(r["breakdown_name"], r["indicator_name"]): r["People"] for r in data["Training registrations and capacity"]}
    assert bars == training and bars[("UMKM Go Digital", "Training registrations")] == 6500

    index = {_month(r["period_start"]): r["Real sales index"] for r in data["Retail sales index, Indonesia"]}
    assert index == series("RETAIL_SALES_INDEX")
    yoy = {_month(r["period_start"]): r["Y-o-y growth (%)"] for r in data["Retail sales index, year-on-year growth (%)"]}
    assert yoy == series("RETAIL_SALES_GROWTH_YOY")
    access = dict(
        con.execute(
            "SELECT p.iso_3166_2, i.obs_value FROM marts.indicators i JOIN marts.provinces p ON p.bps_code = i.ref_area "
            "WHERE i.indicator_code = 'HH_INTERNET_ACCESS' AND i.size_class = '_T' AND i.breakdown = '_T' "
            "AND i.period_start = (SELECT max(period_start) FROM marts.indicators WHERE indicator_code = 'HH_INTERNET_ACCESS')"
        ).fetchall()
    )
    shown = {r["ref_area_iso_code"]: r["Households using the internet (%)"] for r in data[map_named("Household internet access by province, 2022 (%): from ")]}
    assert shown == access
    con.close()


def test_the_dataset_has_the_published_columns_and_their_comments(superset):
    url, password, published_db, _ = superset
    token = _login(url, password)
    [dataset] = _api(url, "/api/v1/dataset/", token)["result"]
    columns = {c["column_name"]: c for c in _api(url, f"/api/v1/dataset/{dataset['id']}", token)["result"]["columns"]}
    con = duckdb.connect(str(published_db), read_only=True)
    comments = dict(con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = 'indicators_labelled'").fetchall())
    con.close()
    assert {name: c["description"] for name, c in columns.items()} == comments
    assert [name for name, c in columns.items() if c["is_dttm"]] == ["period_start"]


def test_the_map_of_indonesia_draws_the_provinces_it_knows():
    """Superset's map of Indonesia keys provinces by ISO 3166-2 code, as the province reference does;
    it predates Kalimantan Utara (2012) and the Papua provinces of 2022, which it cannot draw."""
    assets = next((dashboard.SUPERSET_VENV / "lib").glob("python*/site-packages/superset/static/assets"))
    entry = next(p for p in assets.glob("*.entry.js") if "indonesia:" in p.read_text(encoding="utf-8", errors="ignore"))
    geojson = re.search(r'indonesia:[^"]*"([0-9a-f]+\.geojson)"', entry.read_text(encoding="utf-8", errors="ignore")).group(1)
    drawn = {f["properties"]["ISO"] for f in json.loads((assets / geojson).read_text(encoding="utf-8"))["features"]}
    with open(REPO_ROOT / "sources" / "reference" / "provinces.csv", encoding="utf-8") as f:
        reference = {r["iso_3166_2"] for r in csv.DictReader(f)}
    assert drawn <= reference
    assert reference - drawn == {"ID-KU", "ID-PD", "ID-PE", "ID-PS", "ID-PT"}


def test_dashboard_in_chromium(superset):
    url, password, published_db, _home = superset
    position = yaml.safe_load(dashboard.bundle(published_db)["dashboards/umkm_digital_economy.yaml"])["position"]
    expected_charts = sum(1 for v in position.values() if isinstance(v, dict) and v.get("type") == "CHART")
    synthetic_captions = sum(1 for key, v in position.items() if key.startswith("MARKDOWN-CHART-") and v["meta"]["code"].startswith(r"Origin\: Synthetic sample"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.set_default_timeout(60_000)
        _log_in(page, url, password)
        page.goto(f"{url}/superset/dashboard/{SLUG}/")
        # Four ECharts canvases and the map's province shapes, once every chart has its data, and
        # again after the animations settle, in case Superset laid its grid out again meanwhile.
        for _ in range(2):
            page.locator(".dashboard-chart canvas").nth(3).wait_for()
            page.locator(".dashboard-chart svg path.region").nth(10).wait_for()
            page.wait_for_timeout(2000)
        errors = page.locator(".dashboard-chart [role=alert], .dashboard-chart .alert-danger").count()
        charts = page.locator(".dashboard-chart").count()
        # Under each chart, the origin and source of its figures; above them all, how many are synthetic.
        captions = page.get_by_text("Origin: Synthetic sample, not official statistics. Source: Synthetic sample (orchestration/samplegen.py)").count()
        note = page.get_by_text("indicators published here are a synthetic sample: invented figures, not official statistics").count()
        # Counted before the full-page screenshot, which resizes the page: Superset may lay its grid out again
        # on a resize (a run under load found the charts drawn, then an empty grid in the screenshot and no chart).
        page.screenshot(path=str(SHOTS / "superset_dashboard.png"), full_page=True)
        browser.close()
    assert charts == expected_charts and errors == 0
    assert captions == synthetic_captions == 5 and note == 1


def _log_in(page, url: str, password: str) -> None:
    """Log in with Superset's login form, as a user does. Under load, two runs of the suite in
    several were sent from the welcome page back to the login page (`/login/?next=/superset/welcome/`)
    after the form was sent: the login did not hold (why is not known). Whether a login holds is
    asked of the API with the browser's cookies; one that did not is made once more."""
    for _ in range(2):
        page.goto(f"{url}/login/", wait_until="networkidle")
        if "/login/" in page.url:  # not logged in: a logged-in browser is sent on from the login page
            page.fill("input[name=username], #username", dashboard.ADMIN)
            page.fill("input[name=password], #password", password)
            with page.expect_navigation():  # the form's POST, answered by a redirect
                page.keyboard.press("Enter")
        if page.request.get(f"{url}/api/v1/me/").ok:
            return
    raise AssertionError(f"not logged in after two logins; the browser is at {page.url}")


# What a SQL Lab user could type to reach beyond the published marts (issue found: Superset's secret
# key read, a published export overwritten), each answered by DuckDB itself.
def _attacks(home, published_db, elsewhere) -> dict[str, str]:
    return {
        "read the secret key": f"SELECT content FROM read_text('{home / 'secret_key'}')",
        "read the metadata database": f"SELECT count(*) FROM read_blob('{home / 'superset.db'}')",
        "overwrite an export": f"COPY (SELECT 'forged' AS x) TO '{published_db.parent / 'exports' / 'indicators.sdmx.csv'}'",
        "attach a file": f"ATTACH '{elsewhere / 'other.duckdb'}' AS other",
        "read a system file": "SELECT * FROM read_csv('/etc/passwd')",
        "turn file access on": "SET enable_external_access = true",
        "unlock the settings": "SET lock_configuration = false",
    }


# The engine Superset builds from the bundle's database (URI and engine parameters), in Superset's own
# environment (its DuckDB and duckdb-engine); each statement on a connection of its own.
BI_PROBE = """
import json, sys
import sqlalchemy as sa, yaml
database = yaml.safe_load(sys.stdin.read())
engine = sa.create_engine(database["sqlalchemy_uri"], **database["extra"]["engine_params"])
answers = {}
for name, sql in json.loads(sys.argv[1]).items():
    with engine.connect() as conn:
        try:
            answers[name] = ["ran", [list(row) for row in conn.execute(sa.text(sql)).fetchall()]]
        except sa.exc.DBAPIError as error:
            answers[name] = ["refused", str(error.orig)]
print(json.dumps(answers, default=str))
"""


def test_the_bi_connection_reads_the_marts_and_no_file(superset, tmp_path):
    *_, published_db, home = superset
    export = published_db.parent / "exports" / "indicators.sdmx.csv"
    export_before = hashlib.sha256(export.read_bytes()).hexdigest()
    statements = {"marts": "SELECT count(*) FROM marts.indicators", **_attacks(home, published_db, tmp_path)}
    database = dashboard.bundle(published_db)["databases/indicators.yaml"]
    probe = subprocess.run(
        [str(dashboard.SUPERSET_VENV / "bin" / "python"), "-c", BI_PROBE, json.dumps(statements)],
        input=database,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    answers = json.loads(probe.stdout)

    con = duckdb.connect(str(published_db), read_only=True)
    assert answers.pop("marts") == ["ran", [[con.execute("SELECT count(*) FROM marts.indicators").fetchone()[0]]]]
    con.close()
    for name in ("read the secret key", "read the metadata database", "overwrite an export", "attach a file", "read a system file"):
        assert answers[name][0] == "refused" and "file system operations are disabled by configuration" in answers[name][1], (name, answers[name])
    assert "the configuration has been locked" in answers["turn file access on"][1]
    assert "the configuration has been locked" in answers["unlock the settings"][1]
    assert hashlib.sha256(export.read_bytes()).hexdigest() == export_before
    assert not (tmp_path / "other.duckdb").exists()


def test_sql_lab_cannot_read_superset_secrets_or_write_exports(superset, tmp_path):
    url, password, published_db, home = superset
    token = _login(url, password)
    # SQL Lab's API as its page calls it: a session cookie and its CSRF token beside the login.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    auth = {"Authorization": f"Bearer {token}"}
    with opener.open(urllib.request.Request(f"{url}/api/v1/security/csrf_token/", headers=auth), timeout=60) as response:
        csrf = json.load(response)["result"]
    [database] = _api(url, "/api/v1/database/", token)["result"]

    def sql_lab(sql: str) -> tuple[int, str]:
        body = json.dumps({"database_id": database["id"], "sql": sql, "runAsync": False, "schema": "marts"}).encode()
        headers = {**auth, "X-CSRFToken": csrf, "Content-Type": "application/json", "Referer": url}
        try:
            with opener.open(urllib.request.Request(f"{url}/api/v1/sqllab/execute/", data=body, headers=headers), timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    status, answer = sql_lab("SELECT count(*) AS n FROM marts.indicators")
    assert status == 200 and json.loads(answer)["data"][0]["n"] > 0, answer
    secret_key = (home / "secret_key").read_text()
    export = published_db.parent / "exports" / "indicators.sdmx.csv"
    export_before = export.read_bytes()
    for name, sql in _attacks(home, published_db, tmp_path).items():
        status, answer = sql_lab(sql)
        assert status >= 400, (name, answer)
        assert secret_key not in answer
        expected = "the configuration has been locked" if sql.startswith("SET") else "file system operations are disabled by configuration"
        assert expected in answer, (name, answer[:2000])
    assert export.read_bytes() == export_before


def test_supersets_secrets_are_its_users_alone(superset):
    *_, home = superset
    assert oct(home.stat().st_mode & 0o777) == "0o700"
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in home.iterdir() if p.is_file()}
    assert {"secret_key", "admin_password", "superset.db"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != "0o600"} == {}
