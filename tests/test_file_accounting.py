"""Every row accounted for against the file itself: records counted from the bytes, not from what
the CSV reader returned, and the bytes hashed being the bytes read."""

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.contracts import load_contracts
from orchestration.ingest import load as load_module
from orchestration.ingest.load import load_feed
from orchestration.ingest.ministry_table import install_macros
from orchestration.ingest.records import RecordCounter, read_back
from orchestration.settings import REPO_ROOT

CONTRACTS = load_contracts()
SALES_HEADER = "sale_date,platform,merchant_id,province_code,size_class,orders,gross_sales_idr"
SALES_FILE = "sales/2020-04/pasar_a.csv"


@pytest.fixture
def con():
    c = duckdb.connect()
    install_macros(c)
    yield c
    c.close()


@pytest.fixture
def root(tmp_path, con) -> Path:
    root = tmp_path / "sources"
    (root / "reference").mkdir(parents=True)
    for name in ("provinces.csv", "platforms.csv"):
        shutil.copy(REPO_ROOT / "sources" / "reference" / name, root / "reference")
    for name in ("provinces", "platforms"):
        load_feed(con, CONTRACTS.feeds[name], root, "run")
    return root


def sales_lines(n: int, stray_quote_on_line: int | None = None) -> list[str]:
    """A header and `n` valid sales rows; a merchant id opening a quote on the given line."""
    lines = [SALES_HEADER]
    for i in range(1, n + 1):
        merchant = f"QM{i:05d}" if i + 1 != stray_quote_on_line else f'"QM{i:05d}'
        lines.append(f"2020-04-{1 + i % 28:02d},pasar_a,{merchant},35,MIKRO,{1 + i % 5},{1000 + i}.00")
    return lines


def write(root: Path, rel: str, lines: list[str], compressed: bool = False) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compressed else data)
    return path


def counted(data: bytes, block: int = 3) -> tuple[int, int | None]:
    counter = RecordCounter()
    for start in range(0, len(data), block):
        counter.feed(data[start : start + block])
    counter.close()
    return counter.records, counter.unclosed_line


@pytest.mark.parametrize(
    "data, records, unclosed",
    [
        (b"a,b\n1,2\n3,4\n", 3, None),
        (b"a,b\r\n1,2\r\n3,4", 3, None),  # CRLF, no final line end
        (b"a,b\r1,2\r3,4\r", 3, None),  # CR only
        (b"a,b\n\n1,2\n\n\n3,4\n\n", 3, None),  # empty lines hold no record (the reader skips them)
        (b'a,b\n1,"two\nlines"\n3,"say ""hi"",\r\nok"\n', 3, None),  # quoted line ends, escaped quotes
        (b'a,b\n1,2\n"3,4\n5,6\n', 2, 3),  # a quote opened on line 3 never closes
    ],
)
def test_records_are_counted_by_the_quoting_rules_whatever_the_blocks(data, records, unclosed):
    assert counted(data) == (records, unclosed)
    assert counted(data, block=1 << 20) == (records, unclosed)


@pytest.mark.parametrize("compressed", [False, True])
def test_an_unclosed_quote_rejects_the_file_naming_its_line_instead_of_loading_the_rows_before_it(con, root, compressed):
    rel = SALES_FILE + (".gz" if compressed else "")
    write(root, rel, sales_lines(500, stray_quote_on_line=100), compressed)

    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    # Before: 98 rows read, 98 loaded, 0 quarantined, status loaded; the 402 rows after line 99 were lost.
    assert (file.status, file.rows_read, file.rows_loaded, file.rows_quarantined) == ("rejected", 0, 0, 0)
    assert file.error == (
        f"{rel}: line 100 opens a quoted field (`\"`) that is never closed, so the rest of the file would be one field; "
        "the CSV reader returned 98 rows and stopped there. Close or remove that quote and land the file again"
    )
    assert con.execute("SELECT count(*) FROM raw.sales").fetchall() == [(0,)]


def test_a_rejected_resend_keeps_the_rows_of_the_version_loaded_before(con, root):
    path = write(root, SALES_FILE, sales_lines(500))
    assert load_feed(con, CONTRACTS.feeds["sales"], root, "run").files[0].rows_loaded == 500
    write(root, SALES_FILE, sales_lines(500, stray_quote_on_line=100))

    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    assert file.status == "rejected"
    assert file.error.endswith("land the file again; the rows of its previous version stay loaded")
    assert con.execute("SELECT count(*), sum(gross_sales_idr) FROM raw.sales").fetchall() == [(500, 625250)]
    assert path.exists()


def test_a_stray_quote_in_the_claims_feed_rejects_it_and_a_quoted_line_end_loads(con, root):
    sample = (REPO_ROOT / "sources" / "claims" / "claims.csv").read_text().splitlines()
    assert len(sample) == 8
    broken = sample.copy()
    broken[4] = broken[4].replace(",2020-10-05,", ',2020-10-05,"', 1)
    write(root, "claims/claims.csv", broken)

    (file,) = load_feed(con, CONTRACTS.feeds["claims"], root, "run").files

    # Before: 7 claims read, 7 loaded, status loaded (the reader's count, not the file's 7 + 1 lost).
    assert (file.status, file.rows_loaded) == ("rejected", 0)
    assert file.error.startswith("claims/claims.csv: line 5 opens a quoted field (`\"`) that is never closed")

    quoted_line_end = sample.copy()
    head, tail = quoted_line_end[4].split(",2020-10-05,", 1)
    quote, rest = tail.split(",", 1)
    quoted_line_end[4] = f'{head},2020-10-05,"{quote}\nas published",{rest}'
    write(root, "claims/claims.csv", quoted_line_end)

    (file,) = load_feed(con, CONTRACTS.feeds["claims"], root, "run").files

    assert (file.status, file.rows_read, file.rows_loaded) == ("loaded", 7, 7)
    assert con.execute("SELECT count(*) FROM raw.claims WHERE quote LIKE '%' || chr(10) || 'as published'").fetchall() == [(1,)]


def test_a_file_rewritten_between_its_hash_and_its_read_is_not_recorded_as_loaded(con, root, monkeypatch):
    path = write(root, SALES_FILE, sales_lines(3000))
    sniff = load_module.file_problem

    def rewrite_after_hashing(feed, landed, connection):
        # The writer is still at work: a shorter, then the complete file, after the load hashed it.
        path.write_text("\n".join(sales_lines(1199)) + "\n")
        return sniff(feed, landed, connection)

    monkeypatch.setattr(load_module, "file_problem", rewrite_after_hashing)
    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    # Before: status loaded, 1,199 rows under the hash of a file holding 3,000; the next run
    # found the file unchanged and never read it again.
    assert (file.status, file.rows_loaded) == ("rejected", 0)
    assert file.error == (
        f"{SALES_FILE}: changed while being read (its SHA-256 differs after the read); it will be read again next run"
    )
    assert con.execute("SELECT count(*) FROM audit.loaded_files").fetchall() == [(2,)]  # the two reference files

    monkeypatch.setattr(load_module, "file_problem", sniff)
    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    assert (file.status, file.rows_read, file.rows_loaded) == ("loaded", 1199, 1199)
    assert file.sha256 == read_back(path, "csv").sha256


@pytest.mark.parametrize("compressed", [False, True])
def test_a_crlf_file_with_one_lf_line_is_rejected_naming_that_line(con, root, compressed):
    data = "\r\n".join(sales_lines(500)) + "\r\n"
    lines = data.split("\r\n")
    data = "\r\n".join(lines[:56]) + "\n" + "\r\n".join(lines[56:])  # line 56 ends with LF alone
    rel = SALES_FILE + (".gz" if compressed else "")
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(gzip.compress(data.encode()) if compressed else data.encode())

    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    # Before: "cannot be read (Invalid Input Error: The CSV Parser state machine reached an invalid state.)", no line.
    assert (file.status, file.rows_loaded) == ("rejected", 0)
    assert file.error == (
        f"{rel}: line 56 ends with LF where the lines before it end with CRLF (DuckDB's CSV reader reads one kind of line end "
        "per file): end every line the same way and land the file again"
    )
