"""Not collected is never zero, and landing dates are checked before anything else."""

import datetime as dt
import shutil

import dagster as dg
import duckdb
import pytest

from orchestration import settings
from orchestration.contracts import load_contracts
from orchestration.defs.partitions import monthly_partitions
from orchestration.defs.sensors import run_requests
from orchestration.ingest.landing import landed_month
from tests.conftest import SAMPLE_SOURCES, run_pipeline

SALES_INDICATORS = {"ONLINE_SALES", "ONLINE_SALES_GROWTH_MOM", "ONLINE_SALES_GROWTH_YOY", "ONLINE_SALES_GROWTH_YTD", "ONLINE_SALES_GROWTH_VS_BASE"}
ONBOARDING_INDICATORS = {"ONBOARDED_CUMULATIVE", "ONBOARDING_RATE"}


def observations(con: duckdb.DuckDBPyConnection) -> dict[tuple, tuple]:
    rows = con.execute("SELECT indicator_code, ref_area, size_class, breakdown, time_period, obs_value, obs_status FROM marts.indicators").fetchall()
    return {row[:5]: row[5:] for row in rows}


@pytest.fixture(scope="module")
def gaps(defs, tmp_path_factory):
    """The sample without the sales files of 2020-06 and without onboarding/2020-06.csv."""
    sources = tmp_path_factory.mktemp("gaps") / "sources"
    shutil.copytree(SAMPLE_SOURCES, sources)
    shutil.rmtree(sources / "sales" / "2020-06")
    (sources / "onboarding" / "2020-06.csv").unlink()
    warehouse_dir = sources.parent / "warehouse"
    result = run_pipeline(defs, sources, warehouse_dir)
    assert result.success
    con = duckdb.connect(str(warehouse_dir / settings.PUBLISHED_DB_NAME), read_only=True)
    yield result, con, warehouse_dir
    con.close()


@pytest.mark.integration
def test_a_month_without_sales_files_is_missing_not_zero(gaps, published):
    _, con, _ = gaps
    full, gap = observations(published), observations(con)
    assert gap.keys() == full.keys(), "every observation is still published"
    # (Onboarding's gap, in the same landing zone, is the next test's.)
    changed = {key for key in full if gap[key] != full[key] and key[0] not in ONBOARDING_INDICATORS}

    def touches_june(key):
        code, *_, period = key
        return code in SALES_INDICATORS and (
            period == "2020-06"
            or (code == "ONLINE_SALES_GROWTH_MOM" and period == "2020-07")
            # Year to date sums the months from January: June's gap carries to December.
            or (code == "ONLINE_SALES_GROWTH_YTD" and "2020-06" <= period <= "2020-12")
        )

    # Every area, size class and platform of 2020-06, and the growth rates whose windows hold 2020-06.
    assert changed == {key for key in full if touches_june(key)}
    assert {gap[key] for key in changed} == {(None, "L")}
    assert gap[("ONLINE_SALES", "ID", "_T", "_T", "2020-06")] == (None, "L")
    assert gap[("ONLINE_SALES", "ID", "_T", "pasar_c", "2020-06")] == (None, "L")
    assert gap[("ONLINE_SALES_GROWTH_MOM", "ID", "_T", "_T", "2020-07")] == (None, "L")
    assert gap[("ONLINE_SALES_GROWTH_VS_BASE", "ID", "_T", "_T", "2020-04")] == (480.0, "A")


@pytest.mark.integration
def test_a_missing_onboarding_file_makes_the_cumulative_missing_from_then_on(gaps, published):
    _, con, _ = gaps
    full, gap = observations(published), observations(con)
    changed = {key for key in full if gap[key] != full[key] and key[0] in ONBOARDING_INDICATORS}
    assert changed == {key for key in full if key[0] in ONBOARDING_INDICATORS and key[4] >= "2020-06"}
    assert {gap[key] for key in changed} == {(None, "L")}
    assert gap[("ONBOARDING_RATE", "ID", "ULTRA_MIKRO", "_T", "2020-05")] == full[("ONBOARDING_RATE", "ID", "ULTRA_MIKRO", "_T", "2020-05")]


@pytest.mark.integration
def test_the_completeness_check_summary_and_report_say_what_is_missing(gaps):
    result, con, warehouse_dir = gaps
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    sales, onboarding = checks[("raw/sales", "completeness")], checks[("raw/onboarding", "completeness")]
    assert not sales.passed and sales.severity == dg.AssetCheckSeverity.WARN
    assert sales.description == "not landed: 2020-06 pasar_a, 2020-06 pasar_b, 2020-06 pasar_c, 2020-06 pasar_d"
    assert onboarding.description == "not landed: 2020-06"
    missing = con.execute("SELECT feed, platform FROM marts.feed_completeness WHERE completeness = 'missing' ORDER BY ALL").fetchall()
    assert missing == [("onboarding", "_Z"), *[("sales", p) for p in ("pasar_a", "pasar_b", "pasar_c", "pasar_d")]]
    line = "Not collected: onboarding 2020-06; sales 2020-06 (pasar_a, pasar_b, pasar_c, pasar_d)."
    report = (warehouse_dir / "reports" / "index.html").read_text()
    assert line in report
    sdmx = (warehouse_dir / "exports" / "indicators.sdmx.csv").read_text().splitlines()
    assert ",2020-06,NaN,L,synthetic," in [x for x in sdmx if ",ONLINE_SALES,ID,_T,_T,IDR,2020-06," in x][0]
    from orchestration.ingest.audit import run_summary

    working = duckdb.connect(str(warehouse_dir / settings.WORKING_DB_NAME), read_only=True)
    try:
        assert [x for x in run_summary(working, result.run_id).lines("w") if x.startswith(line)]
    finally:
        working.close()


@pytest.mark.integration
def test_a_platform_missing_in_one_month_makes_only_that_month_missing(defs, sources_copy, tmp_path, published):
    (sources_copy / "sales" / "2019-09" / "pasar_d.csv.gz").unlink()
    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=None)
    assert result.success
    con = duckdb.connect(str(tmp_path / "warehouse" / settings.PUBLISHED_DB_NAME), read_only=True)
    try:
        gap = observations(con)
    finally:
        con.close()
    full = observations(published)
    # The other platforms' breakdowns are real; pasar_d's and every total are missing.
    assert gap[("ONLINE_SALES", "ID", "_T", "pasar_a", "2019-09")] == full[("ONLINE_SALES", "ID", "_T", "pasar_a", "2019-09")]
    assert gap[("ONLINE_SALES", "ID", "_T", "pasar_d", "2019-09")] == (None, "L")
    assert gap[("ONLINE_SALES", "31", "_T", "_T", "2019-09")] == (None, "L")
    # pasar_d only reports from 2019-07 (reference/platforms.csv): earlier months are complete.
    assert ("ONLINE_SALES", "ID", "_T", "pasar_d", "2019-06") not in gap
    assert gap[("ONLINE_SALES", "ID", "_T", "_T", "2019-06")] == full[("ONLINE_SALES", "ID", "_T", "_T", "2019-06")]


@pytest.mark.unit
@pytest.mark.parametrize(
    "path, problem",
    [
        ("sales/2020-13/pasar_a.csv", "month 2020-13 is not a month"),
        ("sales/2018-12/pasar_a.csv", "month 2018-12 is before the warehouse's first month 2019-01"),
        ("sales/2031-05/pasar_a.csv", f"month 2031-05 is after the current month {settings.current_month()}"),
        ("onboarding/2020-00.csv", "month 2020-00 is not a month"),
        ("sales/2020-4/pasar_a.csv", "does not follow the sales feed's pattern"),
    ],
)
def test_landing_dates_that_cannot_hold_data_are_refused(path, problem):
    feed = load_contracts().feeds[path.split("/")[0]]
    with pytest.raises(ValueError, match=problem):
        landed_month(feed, path)


@pytest.mark.unit
def test_months_from_the_first_to_the_current_are_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("DEI_SOURCES_DIR", str(tmp_path))  # a production landing zone: no declared period
    sales = load_contracts().feeds["sales"]
    assert landed_month(sales, "sales/2019-01/pasar_a.csv") == "2019-01"
    assert landed_month(sales, f"sales/{settings.current_month()}/pasar_a__part_1.csv.gz") == settings.current_month()
    keys = monthly_partitions().get_partition_keys()
    assert (keys[0], keys[-1]) == ("2019-01-01", f"{settings.current_month()}-01")
    assert settings.freshness_date() == settings.today()


@pytest.mark.unit
def test_the_declared_reporting_period_bounds_partitions_months_and_freshness():
    # The committed sample declares 2019-01..2020-12 in sources/reporting_period.yml.
    keys = monthly_partitions().get_partition_keys()
    assert (keys[0], keys[-1], len(keys)) == ("2019-01-01", "2020-12-01", 24)
    assert settings.freshness_date() == dt.date(2020, 12, 31)
    sales = load_contracts().feeds["sales"]
    assert landed_month(sales, "sales/2020-12/pasar_a.csv") == "2020-12"
    with pytest.raises(ValueError, match=r"month 2021-01 is outside the reporting period 2019-01\.\.2020-12 declared in sources/reporting_period.yml"):
        landed_month(sales, "sales/2021-01/pasar_a.csv")


@pytest.mark.unit
@pytest.mark.parametrize(
    "text, problem",
    [
        ('first_month: "2019-01"\nlast_month: "2020-13"\n', "last_month: String should match pattern"),
        ('first_month: "2021-01"\nlast_month: "2020-12"\n', "first_month 2021-01 is after last_month 2020-12"),
        ('first_month: "2019-01"\n', "last_month: Field required"),
        ('first_month: "2019-01"\nlast_month: "2020-12"\nend: 2\n', "end: Extra inputs are not permitted"),
        ("- 2019-01\n", "expected first_month and last_month"),
    ],
)
def test_an_invalid_reporting_period_names_the_file_and_the_problem(tmp_path, monkeypatch, text, problem):
    (tmp_path / settings.REPORTING_PERIOD_FILE).write_text(text)
    monkeypatch.setenv("DEI_SOURCES_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=f"^{tmp_path / settings.REPORTING_PERIOD_FILE}: .*{problem}"):
        settings.reporting_period()


@pytest.mark.unit
def test_the_first_month_is_configurable(monkeypatch):
    monkeypatch.setenv("DEI_FIRST_MONTH", "2020-01")
    with pytest.raises(ValueError, match="before the warehouse's first month 2020-01"):
        landed_month(load_contracts().feeds["sales"], "sales/2019-12/pasar_a.csv")


@pytest.mark.unit
def test_the_sensor_never_requests_a_partition_that_does_not_exist(defs):
    changed = {f"sales/{m}/pasar_a.csv": ("sales", None, "0" * 64) for m in ("2018-12", "2020-13", "2031-05", "2020-04")}
    requests = run_requests(changed, 1, defs.resolve_asset_graph())
    assert [r.partition_key for r in requests] == ["2020-04-01"]


# `make run` on files whose month cannot hold data: tests/test_run_output.py, with another rejected file.


@pytest.mark.unit
def test_the_inputs_fingerprint_follows_content_code_and_settings(sources_copy, monkeypatch):
    from orchestration.cli.fingerprint import inputs_fingerprint

    before = inputs_fingerprint(sources_copy)
    path = sources_copy / "onboarding" / "2020-04.csv"
    path.touch()  # a new modification time, the same bytes
    assert inputs_fingerprint(sources_copy) == before
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 1))
    changed = inputs_fingerprint(sources_copy)
    assert changed != before
    (sources_copy / "sales" / "2031-05").mkdir()
    (sources_copy / "sales" / "2031-05" / "pasar_a.csv").write_text("sale_date\n")  # a rejected file is an input too
    assert inputs_fingerprint(sources_copy) != changed
    monkeypatch.setenv("DEI_FIRST_MONTH", "2020-01")
    assert inputs_fingerprint(sources_copy) not in (before, changed)
