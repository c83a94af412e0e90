"""The official-table reader on the published tables themselves (BPS's CSV, Bank Indonesia's
workbook, as landed in sources/), and on modified copies: a changed title, one more footnote, a
column moved. Header, period and marker parsing as units."""

import shutil
from pathlib import Path

import duckdb
import pytest
import xlsxwriter
import yaml
from python_calamine import CalamineWorkbook

from orchestration.contracts import load_contracts
from orchestration.contracts.spec import _parse
from orchestration.ingest.load import load_feed
from orchestration.ingest.official_table import YEAR_HEADER, clean_label, month_header_sql, skipped_lines
from orchestration.settings import CONTRACTS_FILE, REPO_ROOT

pytestmark = pytest.mark.unit

CONTRACTS = load_contracts()
SOURCES = REPO_ROOT / "sources"
BPS = "bps/internet_access_households_by_province_2022.csv"
BI = "bi/survei_penjualan_eceran.xlsx"
REFERENCES = ["provinces", "bi_retail_categories", "bi_cities"]


@pytest.fixture
def con(tmp_path):
    # A file, not memory: each load opens its own connection, as the raw assets do.
    path = tmp_path / "working.duckdb"
    yield lambda: duckdb.connect(str(path))


def _landing(tmp_path: Path, *files: str) -> Path:
    root = tmp_path / "sources"
    for rel in ["reference/provinces.csv", "reference/bi_retail_categories.csv", "reference/bi_cities.csv", *files]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SOURCES / rel, root / rel)
    return root


def _load(connect, root: Path, *feeds: str):
    loads = {}
    for name in [*REFERENCES, *feeds]:
        with connect() as c:
            loads[name] = load_feed(c, CONTRACTS.feeds[name], root, "run")
            if name in feeds:
                loads[name + ":skipped"] = skipped_lines(c)
    return loads


@pytest.mark.parametrize(
    "header, month, marker",
    [
        ("Jan", 1, None),
        ("Mei", 5, None),
        ("May", 5, None),
        ("Juni", 6, None),
        ("Jun*", 6, "*"),
        ("Juli", 7, None),
        ("Agst", 8, None),
        ("Aug", 8, None),
        ("Sept", 9, None),
        ("Okt", 10, None),
        ("Oct", 10, None),
        ("Des", 12, None),
        ("DesR", 12, "R"),
        ("Dec", 12, None),
        ("Nop", 11, None),
        ("Feb **", 2, "**"),
        ("jan.", 1, None),
        ("Q1", None, None),
        ("Juni Juli", None, None),
        ("", None, None),
    ],
)
def test_month_headers_in_indonesian_and_english_with_their_markers(header, month, marker):
    got = duckdb.execute(f"SELECT {month_header_sql('$h')}", {"h": header}).fetchone()[0]
    assert (got["month"], got["marker"]) == (month, marker)


@pytest.mark.parametrize("cell, is_year", [("2012", True), ("2013.0", True), ("2022", True), ("2012.5", False), ("DESCRIPTION", False), ("1850", False), ("Q1", False)])
def test_year_headers_are_text_or_numbers(cell, is_year):
    assert duckdb.execute("SELECT regexp_full_match($c, $r)", {"c": cell, "r": YEAR_HEADER}).fetchone()[0] is is_year


@pytest.mark.parametrize("label, clean", [("Semarang **", "Semarang"), ("ACEH", "ACEH"), ("Jakarta 1)", "Jakarta"), ("    - o/w Sandang", "- o/w Sandang"), ("*", None)])
def test_footnote_marks_are_stripped_from_labels(label, clean):
    assert duckdb.execute(f"SELECT {clean_label('$l')}", {"l": label}).fetchone()[0] == clean


def _hh(c) -> dict:
    rows = c.execute(
        "SELECT province_code, urban_rural, households_pct, obs_status, obs_note FROM raw.hh_internet_access "
        "UNION ALL SELECT 'ID', urban_rural, households_pct, obs_status, obs_note FROM raw.hh_internet_access_reported_totals"
    ).fetchall()
    return {(area, cls): (value, status, note) for area, cls, value, status, note in rows}


def test_bps_internet_access_table_as_published(con, tmp_path):
    loads = _load(con, _landing(tmp_path, BPS), "hh_internet_access")
    [file] = loads["hh_internet_access"].files
    # 38 province lines and INDONESIA; the two title rows, the class and year rows and the blank last line skipped.
    assert (file.status, file.rows_read, file.rows_loaded, file.rows_quarantined) == ("loaded", 39, 39, 0)
    assert [(line, why) for _, _, line, why in loads["hh_internet_access:skipped"]] == [(1, "title"), (2, "title"), (3, "header"), (4, "header"), (44, "blank")]
    with con() as c:
        rows = _hh(c)
    assert len(rows) == 39 * 3
    # BPS's own national figures, not sums of the provinces.
    assert rows["ID", "_T"] == (86.54, "A", None) and rows["ID", "URBAN"] == (90.9, "A", None) and rows["ID", "RURAL"] == (80.54, "A", None)
    # `-`: not collected, never 0.
    for code in ("92", "95", "96", "97"):  # Papua Barat Daya, Papua Selatan, Papua Tengah, Papua Pegunungan
        assert [rows[code, cls][:2] for cls in ("_T", "URBAN", "RURAL")] == [(None, "L")] * 3
    # DKI Jakarta's rural 0: the contract's override, no value, status M and its reason.
    value, status, note = rows["31", "RURAL"]
    assert (value, status) == (None, "M") and note.startswith("DKI Jakarta has no rural households")
    assert rows["31", "URBAN"] == (95.39, "A", None) and rows["94", "RURAL"] == (17.25, "A", None)


def _bi(c, table: str) -> dict:
    return {(period, status): value for period, status, value in c.execute(f"SELECT period, obs_status, sales_index FROM raw.{table}").fetchall()}


def test_bank_indonesia_workbook_as_published(con, tmp_path):
    loads = _load(con, _landing(tmp_path, BI), "retail_sales_index", "retail_sales_index_city", "retail_sales_growth", "retail_sales_growth_city")
    # Tabel 1: 8 category lines and INDEKS TOTAL; Tabel 5: 9 cities and INDEKS TOTAL; Tabel 2+3, 6+7 twice that.
    assert {name: [(f.rows_read, f.rows_quarantined) for f in load.files] for name, load in loads.items() if ":" not in name and name not in REFERENCES} == {
        "retail_sales_index": [(9, 0)],
        "retail_sales_index_city": [(10, 0)],
        "retail_sales_growth": [(18, 0)],
        "retail_sales_growth_city": [(20, 0)],
    }
    # Every other line of Tabel 1 is a title, a header, a blank or a note (Keterangan and below).
    assert [(line, why) for _, sheet, line, why in loads["retail_sales_index:skipped"]] == [
        (1, "blank"),
        (2, "title"),
        (3, "blank"),
        (4, "header"),
        (5, "header"),
        (15, "note"),
        (16, "note"),
        (17, "note"),
    ]
    with con() as c:
        national = dict(((p, s), v) for (p, s), v in _bi(c, "retail_sales_index_reported_totals").items())
        months = c.execute("SELECT min(period), max(period), count(DISTINCT period) FROM raw.retail_sales_index").fetchone()
        june = c.execute("SELECT DISTINCT obs_status FROM raw.retail_sales_index_city WHERE period = '2021-06'").fetchall()
        clothing = c.execute("SELECT sales_index FROM raw.retail_sales_index WHERE category_code = 'CLOTHING' AND period = '2012-01'").fetchone()
        semarang = c.execute("SELECT count(*) FROM raw.retail_sales_index_city WHERE city_code = '3374_3302'").fetchone()
        yoy = c.execute("SELECT growth_pct FROM raw.retail_sales_growth_reported_totals WHERE measure = 'YOY' AND period = '2020-04'").fetchone()
        city_total = c.execute("SELECT sales_index FROM raw.retail_sales_index_city_reported_totals WHERE period = '2020-04'").fetchone()
    assert national["2020-04", "A"] == pytest.approx(190.66, abs=0.005) and city_total[0] == national["2020-04", "A"]
    assert yoy[0] == pytest.approx(-16.8658, abs=1e-4)
    # 2012-01 .. 2021-06: Jun* provisional, DesR (2013-12) a normal value, nothing after June 2021.
    assert months == ("2012-01", "2021-06", 114)
    assert ("2021-06", "P") in national and ("2013-12", "A") in national and june == [("P",)]
    assert not any(period > "2021-06" for period, _ in national)
    # `- o/w Sandang` is a category of its own; `Semarang **` the composite's code.
    assert clothing[0] == pytest.approx(122.35594052954988) and semarang == (114,)


def _write_csv(path: Path, lines: list[str]) -> None:
    path.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode())


def test_bps_table_survives_a_new_title_a_footnote_and_a_moved_column(con, tmp_path):
    root = _landing(tmp_path, BPS)
    lines = (SOURCES / BPS).read_text(encoding="utf-8-sig").splitlines()
    moved = []
    for line in lines:
        cells = line.split(",")
        moved.append(",".join([cells[0], cells[3], cells[1], cells[2]]))  # Perkotaan+Perdesaan first
    moved[0] = "Statistik Telekomunikasi Indonesia 2022,,,"
    moved.insert(1, "Tabel 3.1,,,")
    moved[moved.index(next(m for m in moved if m.startswith("SULAWESI BARAT")))] = moved[moved.index(next(m for m in moved if m.startswith("SULAWESI BARAT")))].replace(
        "SULAWESI BARAT", "SULAWESI BARAT *"
    )
    moved += ["Sumber: Survei Sosial Ekonomi Nasional (Susenas) 2022,,,", "* termasuk wilayah pemekaran,,,"]
    _write_csv(root / BPS, moved)
    loads = _load(con, root, "hh_internet_access")
    [file] = loads["hh_internet_access"].files
    assert (file.rows_read, file.rows_quarantined) == (39, 0)
    with con() as c:
        modified = _hh(c)
    original_root = _landing(tmp_path / "original", BPS)
    original = tmp_path / "original.duckdb"
    _load(lambda: duckdb.connect(str(original)), original_root, "hh_internet_access")
    with duckdb.connect(str(original)) as c:
        assert modified == _hh(c)
    assert [why for *_, why in loads["hh_internet_access:skipped"]] == ["title", "title", "title", "header", "header", "note", "note", "blank"]


def test_an_unknown_province_is_quarantined_naming_it(con, tmp_path):
    root = _landing(tmp_path, BPS)
    lines = (SOURCES / BPS).read_text(encoding="utf-8-sig").splitlines()
    lines[5] = lines[5].replace("SUMATERA UTARA", "SUMATRA UTAR")
    lines[6] = lines[6].replace("87.52", "87.5x")
    lines[7] += ",1.5"  # a figure under no header
    _write_csv(root / BPS, lines)
    loads = _load(con, root, "hh_internet_access")
    [file] = loads["hh_internet_access"].files
    assert (file.rows_read, file.rows_loaded, file.rows_quarantined) == (39, 36, 3)
    with con() as c:
        quarantined = c.execute("SELECT line, rule, reason FROM quarantine.hh_internet_access ORDER BY line").fetchall()
    assert quarantined[0][:2] == (6, "references") and "line 6: unknown province label 'SUMATRA UTAR'; closest known: Sumatra Utara, Sumatera Utara" in quarantined[0][2]
    assert quarantined[1] == (7, "type", "line 7: Perkotaan+Perdesaan / 2022: '87.5x' is neither a number nor a marker the layout maps")
    assert quarantined[2] == (8, "type", "line 8: column E: '1.5' is under no header")


def _workbook_rows(sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(SOURCES / BI)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def _write_workbook(path: Path, sheets: dict[str, list[list]]) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value != "":
                    sheet.write(r, c, value)
    workbook.close()


def test_bi_workbook_survives_a_new_title_a_footnote_and_a_moved_column(con, tmp_path):
    root = _landing(tmp_path, BI)
    rows = _workbook_rows("Tabel 1")
    # The English label column moved from last to second; a longer title; one more footnote.
    rows = [[row[0], row[-1], *row[1:-1]] for row in rows]
    rows[1][0] = "Tabel 1. Indeks Penjualan Riil Menurut Kategori (2010=100)"
    rows.insert(2, ["Sumber: Survei Penjualan Eceran, Bank Indonesia", *[""] * (len(rows[0]) - 1)])
    rows.append(["*** Data baru mulai Juni 2021", *[""] * (len(rows[0]) - 2), "*** New data"])
    _write_workbook(root / BI, {"Tabel 1": rows})
    loads = _load(con, root, "retail_sales_index")
    [file] = loads["retail_sales_index"].files
    assert (file.status, file.rows_read, file.rows_quarantined) == ("loaded", 9, 0)
    with con() as c:
        # The workbook writer keeps 15 significant digits of a double, not 17.
        modified = c.execute("SELECT category_code, period, round(sales_index, 10), obs_status FROM raw.retail_sales_index ORDER BY ALL").fetchall()
        national = c.execute("SELECT period, sales_index, obs_status FROM raw.retail_sales_index_reported_totals WHERE period >= '2021-05' ORDER BY 1").fetchall()
    original = tmp_path / "original.duckdb"
    _load(lambda: duckdb.connect(str(original)), _landing(tmp_path / "original", BI), "retail_sales_index")
    with duckdb.connect(str(original)) as c:
        assert modified == c.execute("SELECT category_code, period, round(sales_index, 10), obs_status FROM raw.retail_sales_index ORDER BY ALL").fetchall()
    assert national == [("2021-05", pytest.approx(227.51262899059833), "A"), ("2021-06", pytest.approx(202.32517096888276), "P")]


def test_a_workbook_without_the_contract_s_sheet_or_with_an_unknown_marker_is_rejected(con, tmp_path):
    root = _landing(tmp_path, BI)
    _write_workbook(root / BI, {"Tabel 5": _workbook_rows("Tabel 5")})
    loads = _load(con, root, "retail_sales_index")
    [file] = loads["retail_sales_index"].files
    assert (file.status, file.error) == ("rejected", f"{BI}: no sheet 'Tabel 1' (sheets: Tabel 5)")

    rows = _workbook_rows("Tabel 1")
    rows[4] = ["Jun#" if cell == "Jun*" else cell for cell in rows[4]]
    _write_workbook(root / BI, {"Tabel 1": rows})
    loads = _load(con, root, "retail_sales_index")
    [file] = loads["retail_sales_index"].files
    assert file.status == "rejected"
    assert file.error == f"{BI}: sheet Tabel 1, column DK (2021 / Jun#): month header 'Jun#' is not a month name"


def test_the_grid_keeps_every_line_of_the_file(con, tmp_path):
    """Every line of the file is a table line (loaded or quarantined) or a skipped one."""
    loads = _load(con, _landing(tmp_path, BPS), "hh_internet_access")
    [file] = loads["hh_internet_access"].files
    lines = (SOURCES / BPS).read_bytes().decode("utf-8-sig").split("\n")
    assert file.rows_read + len(loads["hh_internet_access:skipped"]) == len(lines) == 44


THIRD_TABLE = [
    "Persentase Rumah Tangga yang Memiliki/Menguasai Komputer Menurut Provinsi dan Klasifikasi Daerah (Persen),,,,",
    ",2021,,2022,",
    "Provinsi,Perkotaan,Perdesaan,Perkotaan,Perdesaan",
    "ACEH,24.1,9.7,25.03,10.2",
    "DKI JAKARTA,33.5,0,34.1,0",
    "PAPUA SELATAN,...,...,12.5,3.1",
    "INDONESIA,26.4,9.9,27.1,10.3",
    "Sumber: Survei Sosial Ekonomi Nasional (Susenas),,,,",
]


def test_a_third_published_table_is_a_contract_entry(con, tmp_path):
    """docs/howto-add-a-published-table.md, steps 1 and 2: another table, laid out otherwise (two
    years spanning the classes under them, `...` for no figure, the label column headed), needs a
    contract entry and no code."""
    document = yaml.safe_load(CONTRACTS_FILE.read_text(encoding="utf-8"))
    document["feeds"]["hh_computer"] = {
        "title": "Households with a computer",
        "description": "A BPS table.",
        "publisher": "BPS",
        "licence": "cite BPS",
        "files": ["bps/computer_*.csv"],
        "path_pattern": r"bps/computer_(?P<year>[0-9]{4})\.csv",
        "format": "official_table",
        "layout": {
            "delimiter": ",",
            "name_header": "Provinsi",
            "name_column": "province_code",
            "name_lookup": ["province_name", "name_variants"],
            "name_noun": "province",
            "national_total_label": "INDONESIA",
            "totals_table": "hh_computer_reported_totals",
            "additive": False,
            "header_rows": [{"column": "year", "period": "year"}, {"column": "urban_rural", "codes": {"Perkotaan": "URBAN", "Perdesaan": "RURAL"}}],
            "value_column": "pct",
            "status_column": "obs_status",
            "markers": {"...": "L"},
            "notes_start": ["Sumber"],
            "overrides": [{"name": "DKI Jakarta", "columns": {"urban_rural": "RURAL"}, "cell": "0", "status": "M", "reason": "no rural households"}],
        },
        "key": ["year", "province_code", "urban_rural"],
        "columns": [
            {"name": "year", "type": "INTEGER", "description": "Year.", "rules": {"min": 2000, "max": 2100}},
            {"name": "province_code", "type": "VARCHAR", "description": "Province.", "rules": {"references": "provinces.bps_code", "valid_in_period": "year"}},
            {"name": "urban_rural", "type": "VARCHAR", "description": "Class.", "rules": {"accepted_values": "urban_rural"}},
            {"name": "pct", "type": "DOUBLE", "description": "%.", "rules": {"required": False, "min": 0, "max": 100}},
            {"name": "obs_status", "type": "VARCHAR", "description": "Status.", "rules": {"accepted_values": "published_status"}},
        ],
    }
    feed = _parse(document).feeds["hh_computer"]
    root = _landing(tmp_path)
    (root / "bps").mkdir()
    _write_csv(root / "bps" / "computer_2022.csv", THIRD_TABLE)
    _load(con, root)
    with con() as c:
        [file] = load_feed(c, feed, root, "run").files
        rows = c.execute("SELECT year, province_code, urban_rural, pct, obs_status FROM raw.hh_computer ORDER BY ALL").fetchall()
        national = c.execute("SELECT year, urban_rural, pct FROM raw.hh_computer_reported_totals ORDER BY ALL").fetchall()
    assert (file.status, file.rows_read, file.rows_quarantined) == ("loaded", 4, 0)
    assert rows == [
        (2021, "11", "RURAL", 9.7, "A"),
        (2021, "11", "URBAN", 24.1, "A"),
        (2021, "31", "RURAL", None, "M"),
        (2021, "31", "URBAN", 33.5, "A"),
        (2021, "95", "RURAL", None, "L"),
        (2021, "95", "URBAN", None, "L"),
        (2022, "11", "RURAL", 10.2, "A"),
        (2022, "11", "URBAN", 25.03, "A"),
        (2022, "31", "RURAL", None, "M"),
        (2022, "31", "URBAN", 34.1, "A"),
        (2022, "95", "RURAL", 3.1, "A"),
        (2022, "95", "URBAN", 12.5, "A"),
    ]
    assert national == [(2021, "RURAL", 9.9), (2021, "URBAN", 26.4), (2022, "RURAL", 10.3), (2022, "URBAN", 27.1)]
