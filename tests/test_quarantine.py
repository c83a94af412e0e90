"""Row accounting, quarantine and idempotent loads, on the fault corpus in tests/fixtures."""

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from orchestration.contracts import load_contracts
from orchestration.ingest.commit import FileLoad
from orchestration.ingest.load import load_feed
from orchestration.quality.validation import feed_schema, validate
from tests.conftest import FIXTURES, SAMPLE_SOURCES, land

pytestmark = pytest.mark.unit

CONTRACTS = load_contracts()
EXPECTED = yaml.safe_load((FIXTURES / "expected.yml").read_text())
HEADER = "sale_date,platform,merchant_id,province_code,size_class,orders,gross_sales_idr"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "sources"
    (root / "reference").mkdir(parents=True)
    shutil.copy(SAMPLE_SOURCES / "reference" / "provinces.csv", root / "reference")
    return root


def load(con, root: Path, feed: str, run_id: str = "run-1", **kwargs):
    if feed != "provinces" and not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'provinces'").fetchall()[0][0]:
        load_feed(con, CONTRACTS.feeds["provinces"], root, run_id)
    return load_feed(con, CONTRACTS.feeds[feed], root, run_id, **kwargs)


def quarantined(con, feed: str, source_file: str) -> dict[int, str]:
    rows = con.execute(f"SELECT line, rule FROM quarantine.{feed} WHERE source_file = ? ORDER BY line", [source_file]).fetchall()
    return dict(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_fault_in_the_corpus_has_its_expected_outcome(con, landing):
    landed = land(FIXTURES / "landing", landing)
    assert sorted(EXPECTED) == landed, "tests/fixtures/expected.yml must describe every fixture file"
    loads = {f.source_file: f for feed in ("sales", "population") for f in load(con, landing, feed).files}

    assert sorted(loads) == landed, "every landed file is accounted for"
    for rel, expected in EXPECTED.items():
        got: FileLoad = loads[rel]
        assert got.status == expected["status"], (rel, got)
        assert got.rows_read == got.rows_loaded + got.rows_quarantined, rel
        if expected["status"] == "rejected":
            assert expected["error"] in got.error and got.error.startswith(f"{rel}: "), (rel, got.error)
            assert (got.rows_read, got.rows_loaded) == (0, 0)
            continue
        feed = rel.split("/")[0]
        assert got.rows_read == expected["rows_read"], rel
        assert quarantined(con, feed, rel) == expected["quarantined"], rel
        assert got.rows_loaded == expected["rows_read"] - len(expected["quarantined"]), rel
        if rel.endswith(".csv") and feed == "sales":
            # Counted independently: every non-empty line after the header is a row read.
            lines = [line for line in (landing / rel).read_bytes().splitlines() if line.strip()]
            assert got.rows_read == len(lines) - 1, rel

    # The audit table holds the same accounting, and no file's rows are both loaded and rejected.
    audit = con.execute("SELECT source_file, status, rows_read, rows_loaded, rows_quarantined, sha256 FROM audit.file_loads WHERE feed <> 'provinces' ORDER BY 1").fetchall()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in audit] == [
        (f.source_file, f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in sorted(loads.values(), key=lambda f: f.source_file)
    ]
    assert all(r[5] == sha256(landing / r[0]) for r in audit)
    raw_rows = dict(con.execute("SELECT source_file, count(*) FROM raw.sales GROUP BY ALL").fetchall())
    for rel, got in loads.items():
        if rel.startswith("sales/"):
            assert raw_rows.get(rel, 0) == got.rows_loaded, rel
    # Ingest is the one place the contract is enforced in a run; Pandera's reading of the same
    # contract, run here only, finds nothing in what it loaded.
    for feed in ("sales", "population"):
        report = validate(con, CONTRACTS.feeds[feed].raw_table, feed_schema(CONTRACTS, CONTRACTS.feeds[feed], con))
        assert report.rows > 0 and report.passed, report.summary()


def test_reasons_say_what_is_wrong_with_which_value(con, landing):
    land(FIXTURES / "landing", landing)
    load(con, landing, "sales")
    load(con, landing, "population")
    reasons = dict(con.execute("SELECT source_file || ':' || line, reason FROM quarantine.sales").fetchall())
    assert reasons["sales/2020-04/pasar_a__text_in_number.csv:3"] == "`orders` value 'dua' is not a BIGINT (a whole number in digits, e.g. 1250)"
    # Forms DuckDB would cast to another number are refused, not rounded or read as a million.
    not_numbers = "sales/2020-06/pasar_a__not_numbers.csv"
    assert reasons[f"{not_numbers}:2"] == "`orders` value '2.7' is not a BIGINT (a whole number in digits, e.g. 1250)"
    assert reasons[f"{not_numbers}:3"] == "`orders` value '1_000_000' is not a BIGINT (a whole number in digits, e.g. 1250)"
    assert reasons[f"{not_numbers}:4"] == "`orders` value '1e3' is not a BIGINT (a whole number in digits, e.g. 1250)"
    decimal = "is not a DECIMAL(18,2) (digits with at most 2 decimals after a point, e.g. 1250.55)"
    assert reasons[f"{not_numbers}:5"] == f"`gross_sales_idr` value '1_000.5' {decimal}"
    assert reasons[f"{not_numbers}:6"] == f"`gross_sales_idr` value '7218029.005' {decimal}"  # not rounded to .01
    assert reasons[f"{not_numbers}:11"] == f"`gross_sales_idr` value '3.2e5' {decimal}"
    assert con.execute(f"SELECT merchant_id, orders, gross_sales_idr::VARCHAR FROM raw.sales WHERE source_file = '{not_numbers}' ORDER BY 1").fetchall() == [
        ("A0000035", 3, "1077004.00"),
        ("A0000037", 3, "852507.50"),
    ]
    implausible = "sales/2020-06/pasar_a__implausible.csv"
    assert reasons[f"{implausible}:3"] == (
        "`gross_sales_idr` is 9999999999999999.99, above the plausible maximum 50,000,000,000: one merchant's sales in one day: "
        "Rp 50 billion is a whole year's sales of the largest UMKM, a medium enterprise (annual sales up to Rp 50 billion, PP 7/2021 art. 35)"
    )
    assert reasons[f"{implausible}:4"].startswith("`orders` is 5000000000000000000, above the plausible maximum 100,000: one merchant's orders")
    assert reasons[f"{implausible}:7"].startswith("`orders` is 100001, above the plausible maximum 100,000")
    assert reasons[f"{implausible}:8"].startswith("`gross_sales_idr` is 50000000000.01, above the plausible maximum 50,000,000,000")
    # The plausible maximum itself loads.
    assert con.execute(f"SELECT merchant_id, orders, gross_sales_idr::VARCHAR FROM raw.sales WHERE source_file = '{implausible}' ORDER BY 1").fetchall() == [
        ("A0000001", 1, "153358.00"),
        ("A0000013", 100_000, "50000000000.00"),
    ]
    columns = dict(con.execute("SELECT source_file || ':' || line, column_name FROM quarantine.sales").fetchall())
    assert (columns[f"{implausible}:3"], columns[f"{implausible}:4"], columns[f"{not_numbers}:2"]) == ("gross_sales_idr", "orders", "orders")
    assert reasons["sales/2020-04/pasar_a__negative_amount.csv:3"] == "`gross_sales_idr` is -125000.00, below the minimum 0"
    assert reasons["sales/2020-04/pasar_a__unknown_codes.csv:2"] == "`province_code` '99' is not a known provinces.bps_code"
    assert reasons["sales/2020-04/pasar_a__date_outside_month.csv:3"] == "`sale_date` '2020-05-01' is outside the file's month 2020-04"
    assert reasons["sales/2020-04/pasar_a__duplicate_in_file.csv:4"].endswith("first seen in sales/2020-04/pasar_a__duplicate_in_file.csv line 2")
    assert reasons["sales/2020-05/pasar_b__resent_x.csv.gz:2"].endswith("first seen in sales/2020-05/pasar_b__platform_x.csv line 3")
    assert reasons["sales/2020-04/pasar_a__not_utf8.csv:3"].startswith("the line holds bytes that are not UTF-8")
    raw_line, raw_values = con.execute("SELECT raw_line, raw_values FROM quarantine.sales WHERE source_file = 'sales/2020-04/pasar_a__ragged.csv' AND line = 4").fetchall()[0]
    assert raw_line.endswith(",extra") and raw_values is None
    population = dict(con.execute("SELECT line, reason FROM quarantine.population").fetchall())
    assert population[8] == "unknown province name 'Jawa Tengahh'; closest known: Jawa Tengah, Jateng, Jawa Barat"
    assert population[9] == "ULTRA_MIKRO count '1,234,567' is not a whole number in Indonesian format (e.g. 1.234.567)"
    # Name variants resolve; the share column and the notes are not read; decimals need not be counts.
    assert con.execute("SELECT province_code, enterprises FROM raw.population WHERE size_class = 'ULTRA_MIKRO' ORDER BY 1").fetchall() == [
        ("19", 100_000),
        ("31", 1_000_000),
        ("34", 500_000),
    ]


def test_line_numbers_hold_in_a_large_file_read_in_parallel(con, landing, tmp_path):
    month = landing / "sales" / "2020-04"
    month.mkdir(parents=True)
    path = month / "pasar_z.csv"
    con.execute(
        f"""
        COPY (SELECT DATE '2020-04-01' + (i % 30)::INTEGER AS sale_date, 'pasar_z' AS platform, 'Z' || i AS merchant_id,
                     '31' AS province_code, 'MIKRO' AS size_class, 1 AS orders, 100.00 AS gross_sales_idr
              FROM range(300000) t(i)) TO '{path}' (HEADER)
        """
    )
    lines = path.read_text().splitlines()
    lines[1000] = lines[1000] + ",extra"  # line 1001: rejected by the reader
    lines[250000] = lines[250000].replace(",MIKRO,", ",BESAR,")  # line 250001: breaks a rule
    lines[299999] = lines[299999].replace(",1,", ",-1,")  # line 300000
    path.write_text("\n".join(lines) + "\n")
    result = load(con, landing, "sales")
    assert quarantined(con, "sales", "sales/2020-04/pasar_z.csv") == {1001: "csv_too_many_columns", 250001: "accepted_values", 300000: "min"}
    assert (result.files[0].rows_read, result.files[0].rows_loaded) == (300000, 299997)


def test_relanding_identical_files_is_a_no_op(con, landing):
    land(FIXTURES / "landing" / "sales" / "2020-04", landing / "sales" / "2020-04")
    first = load(con, landing, "sales")
    before = con.execute("SELECT * FROM raw.sales ORDER BY ALL").fetchall()
    for path in (landing / "sales").rglob("*.csv"):
        path.touch()  # a new modification time, the same bytes
    again = load(con, landing, "sales", run_id="run-2")
    assert {f.status for f in again.files} == {"unchanged"} and len(again.files) == len(first.files)
    assert con.execute("SELECT * FROM raw.sales ORDER BY ALL").fetchall() == before
    assert con.execute("SELECT count(*) FROM quarantine.sales WHERE run_id = 'run-2'").fetchall()[0][0] == 0


def test_a_corrected_file_replaces_its_rows_and_records_both_hashes(con, landing):
    rel = "sales/2020-04/pasar_a__negative_amount.csv"
    land(FIXTURES / "landing" / "sales" / "2020-04", landing / "sales" / "2020-04")
    path = landing / rel
    old_hash = sha256(path)
    load(con, landing, "sales")
    path.write_text(path.read_text().replace("-125000.00", "125000.00").replace(",-1,", ",1,"))
    again = load(con, landing, "sales", run_id="run-2")
    corrected = next(f for f in again.files if f.source_file == rel)
    assert (corrected.status, corrected.previous_sha256, corrected.sha256) == ("loaded", old_hash, sha256(path))
    assert (corrected.rows_loaded, corrected.rows_quarantined) == (4, 0)
    assert quarantined(con, "sales", rel) == {}
    assert con.execute("SELECT count(*) FROM raw.sales WHERE source_file = ?", [rel]).fetchall()[0][0] == 4
    assert con.execute("SELECT count(*) FROM (SELECT sale_date, platform, merchant_id FROM raw.sales GROUP BY ALL HAVING count(*) > 1)").fetchall() == [(0,)]
    assert {f.status for f in again.files if f.source_file != rel} == {"unchanged"}


def test_a_key_loaded_in_an_earlier_run_is_quarantined_in_a_resend(con, landing):
    land(FIXTURES / "landing" / "sales" / "2020-05", landing / "sales" / "2020-05")
    (landing / "sales" / "2020-05" / "pasar_b__resent_x.csv.gz").unlink()
    load(con, landing, "sales")
    land(FIXTURES / "landing" / "sales" / "2020-05", landing / "sales" / "2020-05")
    again = load(con, landing, "sales", run_id="run-2")
    assert [f.status for f in again.files] == ["unchanged", "loaded"]
    reasons = [r[0] for r in con.execute("SELECT reason FROM quarantine.sales ORDER BY line").fetchall()]
    assert reasons == [
        "duplicate key (sale_date=2020-05-01, platform=pasar_b, merchant_id=B0000004): already loaded from sales/2020-05/pasar_b__platform_x.csv",
        "duplicate key (sale_date=2020-05-01, platform=pasar_b, merchant_id=B0000000): already loaded from sales/2020-05/pasar_b__platform_x.csv",
    ]


def test_a_removed_file_takes_its_rows_with_it(con, landing):
    land(FIXTURES / "landing" / "sales" / "2020-04", landing / "sales" / "2020-04")
    load(con, landing, "sales")
    (landing / "sales" / "2020-04" / "pasar_a__negative_amount.csv").unlink()
    again = load(con, landing, "sales", run_id="run-2")
    assert [f.source_file for f in again.with_status("removed")] == ["sales/2020-04/pasar_a__negative_amount.csv"]
    assert con.execute("SELECT count(*) FROM raw.sales WHERE source_file LIKE '%negative_amount%'").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM quarantine.sales WHERE source_file LIKE '%negative_amount%'").fetchall() == [(0,)]


def test_a_broken_resend_is_rejected_and_the_previous_rows_stay(con, landing):
    rel = "sales/2020-05/pasar_b__platform_x.csv"
    land(FIXTURES / "landing" / "sales" / "2020-05", landing / "sales" / "2020-05")
    load(con, landing, "sales")
    path = landing / rel
    path.write_text(path.read_text().replace(",", ";"))
    again = load(con, landing, "sales", run_id="run-2")
    resent = next(f for f in again.files if f.source_file == rel)
    assert resent.status == "rejected" and resent.error.endswith("the rows of its previous version stay loaded")
    assert con.execute("SELECT count(*) FROM raw.sales WHERE source_file = ?", [rel]).fetchall() == [(2,)]


def test_file_names_and_values_never_reach_sql(con, landing, tmp_path):
    month = landing / "sales" / "2020-04"
    month.mkdir(parents=True)
    (month / "x'; DROP TABLE raw.provinces; --.csv").write_text(f"{HEADER}\n2020-04-01,x,M1,31,MIKRO,1,1.00\n")
    (month / "pasar_q.csv").write_text(f'{HEADER}\n2020-04-01,pasar_q,"\'); DROP TABLE raw.provinces; --",31,MIKRO,1,1.00\n')
    outside = tmp_path / "outside.csv"
    outside.write_text(f"{HEADER}\n2020-04-02,pasar_o,O1,31,MIKRO,1,1.00\n")
    (month / "pasar_o.csv").symlink_to(outside)  # a link out of the landing zone is not followed, but reported
    result = load(con, landing, "sales")
    assert {f.source_file: f.status for f in result.files} == {
        "sales/2020-04/pasar_o.csv": "rejected",
        "sales/2020-04/pasar_q.csv": "loaded",
        "sales/2020-04/x'; DROP TABLE raw.provinces; --.csv": "rejected",
    }
    assert con.execute("SELECT merchant_id FROM raw.sales").fetchall() == [("'); DROP TABLE raw.provinces; --",)]
    assert con.execute("SELECT count(*) FROM raw.provinces").fetchall() == [(38,)]


def test_clean_files_load_as_scanned_and_a_repeat_names_the_line_it_repeats(con, landing):
    """Clean files of every format load whole; the row a duplicate repeats is found in a clean file."""
    month = landing / "sales" / "2020-04"
    shutil.copytree(SAMPLE_SOURCES / "sales" / "2020-04", month)
    lines = (month / "pasar_a.csv").read_text().splitlines()
    (month / "pasar_a__resent.csv").write_text("\n".join([lines[0], lines[5], "2020-04-02,pasar_a,A9999999,31,MIKRO,1,100.00", lines[2]]) + "\n")
    result = load(con, landing, "sales")
    counts = {f.source_file.removeprefix("sales/2020-04/"): (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in result.files}
    for name in ("pasar_a.csv", "pasar_b.csv", "pasar_c.parquet", "pasar_d.csv.gz"):
        status, read, loaded, quarantined_rows = counts[name]
        assert (status, loaded, quarantined_rows) == ("loaded", read, 0) and read > 0, name
    assert counts["pasar_a__resent.csv"] == ("loaded", 3, 1, 2)
    rows = con.execute("SELECT line, rule, reason FROM quarantine.sales ORDER BY line").fetchall()
    assert [(line, rule) for line, rule, _ in rows] == [(2, "unique_key"), (4, "unique_key")]
    assert rows[0][2].endswith("first seen in sales/2020-04/pasar_a.csv line 6")
    assert rows[1][2].endswith("first seen in sales/2020-04/pasar_a.csv line 3")
    assert con.execute("SELECT count(*) FROM raw.sales").fetchall()[0][0] == sum(read for _, read, _, _ in counts.values()) - 2
