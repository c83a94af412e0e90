"""The province reference knows every province since 2019, and feeds are checked against the
provinces valid in their file's period: 34 in 2020, 38 since December 2022."""

import datetime as dt
import shutil
from pathlib import Path

import pytest

from orchestration.contracts import load_contracts
from orchestration.ingest.load import load_feed
from orchestration.quality.validation import feed_schema, validate
from tests.conftest import FIXTURES, SAMPLE_SOURCES, land

pytestmark = pytest.mark.unit

CONTRACTS = load_contracts()
SALES_HEADER = "sale_date,platform,merchant_id,province_code,size_class,orders,gross_sales_idr"


@pytest.fixture
def landing(tmp_path, con) -> Path:
    """A landing zone with the reference provinces, loaded."""
    root = tmp_path / "sources"
    (root / "reference").mkdir(parents=True)
    shutil.copy(SAMPLE_SOURCES / "reference" / "provinces.csv", root / "reference")
    load_feed(con, CONTRACTS.feeds["provinces"], root, "run")
    return root


def valid_on(con, day: dt.date) -> set[str]:
    return {
        code
        for (code,) in con.execute(
            "SELECT bps_code FROM raw.provinces WHERE coalesce(valid_from <= $day, true) AND coalesce(valid_to >= $day, true)",
            {"day": day},
        ).fetchall()
    }


def test_38_provinces_are_valid_today_and_34_on_2020_12_31(con, landing):
    assert con.execute("SELECT count(*) FROM quarantine.provinces").fetchall() == [(0,)]
    today, end_of_2020 = valid_on(con, dt.date.today()), valid_on(con, dt.date(2020, 12, 31))
    assert len(today) == 38 and len(end_of_2020) == 34
    assert today - end_of_2020 == {"92", "95", "96", "97"}
    # The eve of each law: the split-off province does not exist yet, its parent does.
    assert "95" not in valid_on(con, dt.date(2022, 7, 24)) and "94" in valid_on(con, dt.date(2022, 7, 24))
    assert "92" not in valid_on(con, dt.date(2022, 12, 7)) and "91" in valid_on(con, dt.date(2022, 12, 7))


@pytest.mark.parametrize(
    "bps_code, kemendagri_code, province_name, valid_from, split_from",
    [
        # UU 29/2022, enacted and promulgated 8 December 2022; Kepmendagri 300.2.2-2138/2025.
        ("92", "96", "Papua Barat Daya", dt.date(2022, 12, 8), "91"),
        # UU 14, 15 and 16/2022, enacted and promulgated 25 July 2022; Kepmendagri 100.1.1-6117/2022.
        ("95", "93", "Papua Selatan", dt.date(2022, 7, 25), "94"),
        ("96", "94", "Papua Tengah", dt.date(2022, 7, 25), "94"),
        ("97", "95", "Papua Pegunungan", dt.date(2022, 7, 25), "94"),
        # The provinces they were split from keep their codes and rows.
        ("91", "92", "Papua Barat", None, None),
        ("94", "91", "Papua", None, None),
    ],
)
def test_the_papua_provinces_codes_and_dates(con, landing, bps_code, kemendagri_code, province_name, valid_from, split_from):
    row = con.execute("SELECT kemendagri_code, province_name, valid_from, valid_to, split_from FROM raw.provinces WHERE bps_code = ?", [bps_code]).fetchall()
    assert row == [(kemendagri_code, province_name, valid_from, None, split_from)]


def land_sales(root: Path, month: str, *codes: str) -> str:
    folder = root / "sales" / month
    folder.mkdir(parents=True)
    rows = [f"{month}-15,pasar_a,M{i},{code},MIKRO,1,1000.00" for i, code in enumerate(codes)]
    (folder / "pasar_a.csv").write_text("\n".join([SALES_HEADER, *rows]) + "\n")
    return f"sales/{month}/pasar_a.csv"


def test_a_sales_row_coded_with_a_province_not_yet_created_is_quarantined(con, landing):
    before = land_sales(landing, "2020-04", "31", "92", "94")
    eve = land_sales(landing, "2022-11", "92")
    # Valid on any day of the month: Papua Barat Daya exists from 8 December 2022.
    since = land_sales(landing, "2022-12", "92", "91")
    load_feed(con, CONTRACTS.feeds["sales"], landing, "run")
    quarantined = con.execute("SELECT source_file, line, rule, column_name, reason FROM quarantine.sales ORDER BY ALL").fetchall()
    assert quarantined == [
        (before, 3, "valid_in_period", "province_code", "`province_code` '92' is not a provinces.bps_code in 2020-04 (valid from 2022-12-08)"),
        (eve, 2, "valid_in_period", "province_code", "`province_code` '92' is not a provinces.bps_code in 2022-11 (valid from 2022-12-08)"),
    ]
    loaded = con.execute("SELECT source_file, province_code FROM raw.sales ORDER BY ALL").fetchall()
    assert loaded == [(before, "31"), (before, "94"), (since, "91"), (since, "92")]


def test_pandera_checks_the_province_against_the_files_month(con, landing):
    land_sales(landing, "2020-04", "31")
    land_sales(landing, "2023-01", "92")
    load_feed(con, CONTRACTS.feeds["sales"], landing, "run")
    schema = feed_schema(CONTRACTS, CONTRACTS.feeds["sales"], con)
    assert validate(con, "raw.sales", schema).passed
    con.execute("UPDATE raw.sales SET province_code = '95' WHERE source_file = 'sales/2020-04/pasar_a.csv'")
    failures = validate(con, "raw.sales", schema).failures
    assert [(f.check, f.count) for f in failures] == [("valid_in_period(province_code)", 1)]


def test_a_2023_population_table_with_38_provinces_loads_without_quarantine(con, landing):
    land(FIXTURES / "provinces", landing)
    result = load_feed(con, CONTRACTS.feeds["population"], landing, "run")
    assert [(f.source_file, f.status, f.rows_read, f.rows_quarantined) for f in result.files] == [("population/umkm_population_2023.csv", "loaded", 39, 0)]
    codes = {c for (c,) in con.execute("SELECT DISTINCT province_code FROM raw.population WHERE year = 2023").fetchall()}
    assert codes == valid_on(con, dt.date(2023, 12, 31)) and len(codes) == 38
    sums = con.execute(
        "SELECT size_class, any_value(t.enterprises) = sum(p.enterprises) FROM raw.population p JOIN raw.population_reported_totals t USING (year, size_class) GROUP BY size_class"
    ).fetchall()
    assert all(equal for _, equal in sums) and len(sums) == 4
    assert validate(con, "raw.population", feed_schema(CONTRACTS, CONTRACTS.feeds["population"], con)).passed


def test_a_2020_population_table_naming_a_province_of_2022_quarantines_that_line(con, landing):
    folder = landing / "population"
    folder.mkdir()
    lines = (SAMPLE_SOURCES / "population" / "umkm_population_2020.csv").read_text(encoding="utf-8").splitlines()
    total = next(i for i, line in enumerate(lines) if line.startswith("INDONESIA;"))
    lines.insert(total, "Papua Selatan;124.126;2.533;1.569;127")
    (folder / "umkm_population_2020.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_feed(con, CONTRACTS.feeds["population"], landing, "run")
    assert (result.files[0].status, result.files[0].rows_quarantined) == ("loaded", 1)
    assert con.execute("SELECT line, rule, column_name, reason FROM quarantine.population").fetchall() == [
        (total + 1, "valid_in_period", "province_code", "'Papua Selatan': `province_code` '95' is not a provinces.bps_code in 2020 (valid from 2022-07-25)")
    ]
    assert con.execute("SELECT count(DISTINCT province_code) FROM raw.population").fetchall() == [(34,)]
    assert validate(con, "raw.population", feed_schema(CONTRACTS, CONTRACTS.feeds["population"], con)).passed


def test_an_unknown_name_is_offered_only_provinces_of_the_files_year(con, landing):
    folder = landing / "population"
    folder.mkdir()
    header = "Provinsi;Usaha Ultra Mikro;Usaha Mikro;Usaha Kecil;Usaha Menengah"
    for year in (2020, 2023):
        (folder / f"umkm_population_{year}.csv").write_text(f"{header}\nPapua Tengahh;1;1;1;1\nINDONESIA;1;1;1;1\n")
    load_feed(con, CONTRACTS.feeds["population"], landing, "run")
    reasons = dict(con.execute("SELECT source_file, reason FROM quarantine.population").fetchall())
    assert reasons == {
        "population/umkm_population_2020.csv": "unknown province name 'Papua Tengahh'; closest known: Papua, Papua Barat, Jawa Tengah",
        "population/umkm_population_2023.csv": "unknown province name 'Papua Tengahh'; closest known: Papua Tengah, Papua, Papua Selatan",
    }
