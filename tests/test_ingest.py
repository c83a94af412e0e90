"""Unit tests of the DuckDB loaders: Indonesian numbers, province names, headers, formats."""

import gzip
import shutil
from pathlib import Path

import pytest
import yaml

from orchestration.contracts import load_contracts
from orchestration.contracts.spec import _parse
from orchestration.ingest.load import load_feed
from orchestration.ingest.ministry_table import install_macros
from orchestration.ingest.staged import FeedError
from orchestration.settings import CONTRACTS_FILE, REPO_ROOT

pytestmark = pytest.mark.unit

CONTRACTS = load_contracts()


@pytest.fixture
def con(con):
    install_macros(con)  # id_number and name_key, which tests below call themselves
    return con


@pytest.mark.parametrize(
    "text, expected",
    [
        ("64.000.000", 64_000_000),
        ("1.234.567", 1_234_567),
        ("782", 782),
        (" 9.400.000 ", 9_400_000),
        ("14,6", 14.6),
        ("1.234,56", 1234.56),
        ("1234", 1234),
        ("12.34", None),  # '.' groups thousands: three digits must follow
        ("1,234.5", None),
        ("-5", None),
        ("abc", None),
        ("", None),
    ],
)
def test_indonesian_numbers(con, text, expected):
    value = con.execute("SELECT id_number(?)", [text]).fetchall()[0][0]
    assert (None if value is None else float(value)) == expected


@pytest.mark.parametrize("a, b", [("D.K.I. Jakarta", "DKI Jakarta"), ("Kep. Bangka  Belitung", "KEP BANGKA BELITUNG")])
def test_province_keys_ignore_case_spaces_and_punctuation(con, a, b):
    assert con.execute("SELECT name_key(?) = name_key(?)", [a, b]).fetchall()[0][0]


def _landing(tmp_path: Path) -> Path:
    root = tmp_path / "sources"
    (root / "reference").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "sources" / "reference" / "provinces.csv", root / "reference")
    return root


POPULATION_2021 = [
    "Jumlah UMKM menurut Provinsi, 2021",
    "",
    "Provinsi;Usaha Ultra Mikro;Usaha Mikro;Usaha Kecil;Usaha Menengah",
    "D.K.I. Jakarta;1.000.000;20.000;3.000;400",
    "Daerah Istimewa Yogyakarta;500.000;10.000;1.500;200",
    "Kep. Bangka Belitung;100.000;2.000;300;40",
    "INDONESIA;1.600.000;32.000;4.800;640",
    "Sumber: contoh",
]


def test_population_table_is_normalized(con, tmp_path):
    root = _landing(tmp_path)
    (root / "population").mkdir()
    # A BOM and CRLF line ends are normal in exported files.
    (root / "population" / "umkm_population_2021.csv").write_bytes(("\ufeff" + "\r\n".join(POPULATION_2021) + "\r\n").encode())
    load_feed(con, CONTRACTS.feeds["provinces"], root, "run")
    result = load_feed(con, CONTRACTS.feeds["population"], root, "run")
    assert result.rows_in_table == 12
    rows = con.execute("SELECT province_code, size_class, enterprises FROM raw.population WHERE size_class IN ('ULTRA_MIKRO', 'MENENGAH') ORDER BY ALL").fetchall()
    assert rows == [
        ("19", "MENENGAH", 40),
        ("19", "ULTRA_MIKRO", 100_000),
        ("31", "MENENGAH", 400),
        ("31", "ULTRA_MIKRO", 1_000_000),
        ("34", "MENENGAH", 200),
        ("34", "ULTRA_MIKRO", 500_000),
    ]
    totals = con.execute("SELECT year, size_class, enterprises, line FROM raw.population_reported_totals ORDER BY size_class").fetchall()
    assert totals[-1] == (2021, "ULTRA_MIKRO", 1_600_000, 7)


@pytest.mark.parametrize(
    "line_index, text, rule, reason",
    [
        (
            4,
            "Daerah Istimewa Jogjakarta;500.000;10.000;1.500;200",
            "references",
            "unknown province name 'Daerah Istimewa Jogjakarta'; closest known: Daerah Istimewa Yogyakarta, Daerah Khusus Ibukota Jakarta, Irian Jaya Barat",
        ),
        (3, "D.K.I. Jakarta;1,000,000;20.000;3.000;400", "type", "ULTRA_MIKRO count '1,000,000' is not a whole number in Indonesian format (e.g. 1.234.567)"),
        (
            3,
            "D.K.I. Jakarta;1.000.000;20.000;3.000;99.999.999.999",
            "plausible",
            "MENENGAH: `enterprises` is 99999999999, above the plausible maximum 70,000,000: a province's or the nation's count of one "
            "size class: 70 million is more than every UMKM in Indonesia (about 65 million in 2019-2020, the national total of these tables)",
        ),
    ],
)
def test_a_bad_population_line_is_quarantined_with_file_line_and_reason(con, tmp_path, line_index, text, rule, reason):
    root = _landing(tmp_path)
    (root / "population").mkdir()
    lines = POPULATION_2021.copy()
    lines[line_index] = text
    (root / "population" / "umkm_population_2021.csv").write_text("\n".join(lines))
    load_feed(con, CONTRACTS.feeds["provinces"], root, "run")
    result = load_feed(con, CONTRACTS.feeds["population"], root, "run")
    assert (result.files[0].rows_read, result.files[0].rows_quarantined) == (4, 1)
    assert con.execute("SELECT source_file, line, rule, reason, raw_line FROM quarantine.population").fetchall() == [
        ("population/umkm_population_2021.csv", line_index + 1, rule, reason, text)
    ]


def test_a_population_table_without_a_size_class_column_is_rejected(con, tmp_path):
    root = _landing(tmp_path)
    (root / "population").mkdir()
    lines = POPULATION_2021.copy()
    lines[2] = "Provinsi;Usaha Ultra Mikro;Usaha Mikro;Usaha Kecil;Usaha Besar"
    (root / "population" / "umkm_population_2021.csv").write_text("\n".join(lines))
    load_feed(con, CONTRACTS.feeds["provinces"], root, "run")
    result = load_feed(con, CONTRACTS.feeds["population"], root, "run")
    assert result.files[0].status == "rejected"
    assert result.files[0].error == "population/umkm_population_2021.csv: line 3: required column `Usaha Menengah` missing; found `Usaha Besar`"
    assert result.rows_in_table == 0


SALES_HEADER = "sale_date,platform,merchant_id,province_code,size_class,orders,gross_sales_idr"


def test_sales_in_all_three_formats_load_with_their_source_file(con, tmp_path):
    root = _landing(tmp_path)
    month = root / "sales" / "2020-04"
    month.mkdir(parents=True)
    (month / "pasar_a.csv").write_text(f"{SALES_HEADER}\n2020-04-01,pasar_a,A1,31,MIKRO,2,150000.50\n")
    with gzip.open(month / "pasar_b.csv.gz", "wt") as f:
        f.write(f"{SALES_HEADER}\r\n2020-04-02,pasar_b,B1,32,KECIL,1,99000\r\n")
    con.execute(
        f"COPY (SELECT DATE '2020-04-03' AS sale_date, 'pasar_c' AS platform, 'C1' AS merchant_id, '33' AS province_code, "
        f"'ULTRA_MIKRO' AS size_class, 4::BIGINT AS orders, 12.5::DECIMAL(18,2) AS gross_sales_idr) TO '{month / 'pasar_c.parquet'}' (FORMAT parquet)"
    )
    load_feed(con, CONTRACTS.feeds["provinces"], root, "run")
    result = load_feed(con, CONTRACTS.feeds["sales"], root, "run")
    assert result.rows_in_table == 3
    rows = con.execute("SELECT source_file, gross_sales_idr::VARCHAR FROM raw.sales ORDER BY 1").fetchall()
    assert rows == [("sales/2020-04/pasar_a.csv", "150000.50"), ("sales/2020-04/pasar_b.csv.gz", "99000.00"), ("sales/2020-04/pasar_c.parquet", "12.50")]


def test_renamed_column_rejects_the_file_with_a_clear_message(con, tmp_path):
    root = _landing(tmp_path)
    month = root / "sales" / "2020-04"
    month.mkdir(parents=True)
    (month / "pasar_b.csv").write_text(SALES_HEADER.replace("gross_sales_idr", "gross_sales") + "\n2020-04-01,pasar_b,B1,31,MIKRO,2,1\n")
    (month / "pasar_c.csv").write_text(SALES_HEADER + "\n2020-04-01,pasar_c,C1,31,MIKRO,2,1\n")
    load_feed(con, CONTRACTS.feeds["provinces"], root, "run")
    result = load_feed(con, CONTRACTS.feeds["sales"], root, "run")
    assert [(f.source_file, f.status) for f in result.files] == [("sales/2020-04/pasar_b.csv", "rejected"), ("sales/2020-04/pasar_c.csv", "loaded")]
    assert result.files[0].error.startswith("sales/2020-04/pasar_b.csv: required column `gross_sales_idr` missing; found `gross_sales`")
    assert result.rows_in_table == 1


def test_a_feed_with_no_files_is_an_error(con, tmp_path):
    with pytest.raises(FeedError, match="sales: no files landed"):
        load_feed(con, CONTRACTS.feeds["sales"], _landing(tmp_path), "run")


RANGE = {"min": 0, "plausible": {"max": 100_000_000, "reason": "about five times Indonesia's GDP"}}


def test_another_ministry_table_is_a_contract_entry(con, tmp_path):
    """A table in the ministry's format whose value columns fill contract columns of their own (not
    unpivoted), decimals included, loads from a contract entry alone, its ranges and scales held."""
    document = yaml.safe_load(CONTRACTS_FILE.read_text(encoding="utf-8"))
    document["feeds"]["gdp"] = {
        "title": "GDP",
        "description": "Value added by province.",
        "files": ["gdp/umkm_gdp_*.csv"],
        "path_pattern": r"gdp/umkm_gdp_(?P<year>[0-9]{4})\.csv",
        "format": "ministry_table",
        "key": ["year", "province_code"],
        "layout": {
            "delimiter": ";",
            "name_header": "Uraian",
            "name_column": "province_code",
            "name_lookup": ["province_name", "name_variants"],
            "name_noun": "province",
            "national_total_label": "INDONESIA",
            "totals_table": "gdp_reported_totals",
            "footnote_prefix": "Sumber",
            "value_columns": {"Nilai Tambah UMKM": "umkm_value_added", "PDB": "gdp"},
        },
        "columns": [
            {"name": "year", "type": "INTEGER", "description": "Year.", "rules": {"min": 2000, "max": 2100}},
            {"name": "province_code", "type": "VARCHAR", "description": "Province.", "rules": {"references": "provinces.bps_code"}},
            {"name": "umkm_value_added", "type": "DECIMAL(18,1)", "description": "UMKM value added.", "rules": RANGE},
            {"name": "gdp", "type": "DECIMAL(18,1)", "description": "GDP.", "rules": RANGE},
        ],
    }
    gdp = _parse(document).feeds["gdp"]
    root = _landing(tmp_path)
    (root / "gdp").mkdir()
    lines = [
        "PDB menurut Provinsi, 2019",
        "(miliar rupiah)",
        "",
        "Uraian;PDB;Nilai Tambah UMKM",
        "DKI Jakarta;2.840.000,5;1.100.000,2",
        "Jateng;1.360.000;820.000,7",
        "Bali;abc;1.000",
        "Aceh;123.456.789,0;1.000",
        "Papua;1.000,25;1.000,50",
        "INDONESIA;4.200.000,5;1.920.000,9",
        "Sumber: contoh",
    ]
    (root / "gdp" / "umkm_gdp_2019.csv").write_text("\n".join(lines) + "\n")
    load_feed(con, CONTRACTS.feeds["provinces"], root, "run")
    (loaded,) = load_feed(con, gdp, root, "run").files
    assert (loaded.status, loaded.rows_read, loaded.rows_quarantined) == ("loaded", 6, 3)
    rows = con.execute("SELECT year, province_code, umkm_value_added, gdp FROM raw.gdp ORDER BY ALL").fetchall()
    assert [(y, p, float(u), float(g)) for y, p, u, g in rows] == [(2019, "31", 1_100_000.2, 2_840_000.5), (2019, "33", 820_000.7, 1_360_000.0)]
    assert con.execute("SELECT line, rule, column_name, reason FROM quarantine.gdp ORDER BY line").fetchall() == [
        (7, "type", "gdp", "gdp value 'abc' is not a number in Indonesian format (e.g. 1.234.567,8)"),
        (8, "plausible", "gdp", "`gdp` is 123456789.0, above the plausible maximum 100,000,000: about five times Indonesia's GDP"),
        # Not rounded to 1.000,3: a second decimal is more than the column holds (a trailing zero is not).
        (9, "type", "gdp", "gdp value '1.000,25' has more than 1 decimal(s), the column's scale (not rounded)"),
    ]
    totals = con.execute("SELECT year, umkm_value_added::DOUBLE, gdp::DOUBLE, line FROM raw.gdp_reported_totals").fetchall()
    assert totals == [(2019, 1_920_000.9, 4_200_000.5, 10)]


def test_a_file_is_judged_again_when_its_contract_changes(con, tmp_path):
    """A file's bytes unchanged but its feed's contract changed (a rule relaxed or tightened, a code
    list edited): the next load judges its rows again, by the contract as it is now."""
    root = _landing(tmp_path)
    shutil.copy(REPO_ROOT / "sources" / "reference" / "platforms.csv", root / "reference")
    platforms = CONTRACTS.feeds["platforms"]
    (first,) = load_feed(con, platforms, root, "run-1").files
    assert (first.status, first.rows_loaded, first.rows_quarantined) == ("loaded", 4, 0)
    (again,) = load_feed(con, platforms, root, "run-2").files
    assert again.status == "unchanged"

    document = yaml.safe_load(CONTRACTS_FILE.read_text(encoding="utf-8"))
    (column,) = [c for c in document["feeds"]["platforms"]["columns"] if c["name"] == "first_month"]
    column["rules"] = {"pattern": "2019-01"}  # tightened: a platform that started later breaks it
    stricter = _parse(document).feeds["platforms"]
    (judged,) = load_feed(con, stricter, root, "run-3").files
    assert (judged.status, judged.sha256, judged.previous_sha256) == ("loaded", first.sha256, first.sha256)
    assert (judged.rows_loaded, judged.rows_quarantined) == (3, 1)
    assert con.execute("SELECT line, rule FROM quarantine.platforms").fetchall() == [(5, "pattern")]
    (same,) = load_feed(con, stricter, root, "run-4").files
    assert same.status == "unchanged"
