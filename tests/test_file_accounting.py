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
from orchestration.ingest.records import RecordCounter, read_back
from orchestration.settings import REPO_ROOT

CONTRACTS = load_contracts()
SALES_HEADER = "sale_date,platform,merchant_id,province_code,size_class,orders,gross_sales_idr"
SALES_FILE = "sales/2020-04/pasar_a.csv"


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


@pytest.mark.unit
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


@pytest.mark.unit
@pytest.mark.parametrize("compressed", [False, True])
def test_an_unclosed_quote_rejects_the_file_naming_its_line_instead_of_loading_the_rows_before_it(con, root, compressed):
    rel = SALES_FILE + (".gz" if compressed else "")
    write(root, rel, sales_lines(500, stray_quote_on_line=100), compressed)

    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    # Before: 98 rows read, 98 loaded, 0 quarantined, status loaded; the 402 rows after line 99 were lost.
    assert (file.status, file.rows_read, file.rows_loaded, file.rows_quarantined) == ("rejected", 0, 0, 0)
    assert file.error == (
        f'{rel}: line 100 opens a quoted field (`"`) that is never closed, so the rest of the file would be one field; '
        "the CSV reader returned 98 rows and stopped there. Close or remove that quote and land the file again"
    )
    assert con.execute("SELECT count(*) FROM raw.sales").fetchall() == [(0,)]


@pytest.mark.unit
def test_a_rejected_resend_keeps_the_rows_of_the_version_loaded_before(con, root):
    path = write(root, SALES_FILE, sales_lines(500))
    assert load_feed(con, CONTRACTS.feeds["sales"], root, "run").files[0].rows_loaded == 500
    write(root, SALES_FILE, sales_lines(500, stray_quote_on_line=100))

    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    assert file.status == "rejected"
    assert file.error.endswith("land the file again; the rows of its previous version stay loaded")
    assert con.execute("SELECT count(*), sum(gross_sales_idr) FROM raw.sales").fetchall() == [(500, 625250)]
    assert path.exists()


@pytest.mark.unit
def test_a_stray_quote_in_the_claims_feed_rejects_it_and_a_quoted_line_end_loads(con, root):
    sample = (REPO_ROOT / "sources" / "claims" / "claims.csv").read_text().splitlines()
    assert len(sample) == 8
    broken = sample.copy()
    broken[4] = broken[4].replace(",2020-10-05,", ',2020-10-05,"', 1)
    write(root, "claims/claims.csv", broken)

    (file,) = load_feed(con, CONTRACTS.feeds["claims"], root, "run").files

    # Before: 7 claims read, 7 loaded, status loaded (the reader's count, not the file's 7 + 1 lost).
    assert (file.status, file.rows_loaded) == ("rejected", 0)
    assert file.error.startswith('claims/claims.csv: line 5 opens a quoted field (`"`) that is never closed')

    quoted_line_end = sample.copy()
    head, tail = quoted_line_end[4].split(",2020-10-05,", 1)
    quote, rest = tail.split(",", 1)
    quoted_line_end[4] = f'{head},2020-10-05,"{quote}\nas published",{rest}'
    write(root, "claims/claims.csv", quoted_line_end)

    (file,) = load_feed(con, CONTRACTS.feeds["claims"], root, "run").files

    assert (file.status, file.rows_read, file.rows_loaded) == ("loaded", 7, 7)
    assert con.execute("SELECT count(*) FROM raw.claims WHERE quote LIKE '%' || chr(10) || 'as published'").fetchall() == [(1,)]


@pytest.mark.unit
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
    assert file.error == (f"{SALES_FILE}: changed while being read (its SHA-256 differs after the read); it will be read again next run")
    assert con.execute("SELECT count(*) FROM audit.loaded_files").fetchall() == [(2,)]  # the two reference files

    monkeypatch.setattr(load_module, "file_problem", sniff)
    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    assert (file.status, file.rows_read, file.rows_loaded) == ("loaded", 1199, 1199)
    assert file.sha256 == read_back(path, "csv").sha256


@pytest.mark.unit
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


@pytest.mark.unit
def test_a_resend_with_far_fewer_rows_is_held_until_confirmed_and_a_declared_zero_loads(con, root):
    sales = CONTRACTS.feeds["sales"]
    write(root, SALES_FILE, sales_lines(500))
    write(root, "sales/2020-05/pasar_a.csv", [SALES_HEADER])  # a month that truly had no sales: a real zero
    first = {f.source_file: (f.status, f.rows_loaded) for f in load_feed(con, sales, root, "run").files}
    assert first == {SALES_FILE: ("loaded", 500), "sales/2020-05/pasar_a.csv": ("loaded", 0)}

    write(root, SALES_FILE, sales_lines(300))  # more than half: a correction, loaded
    assert load_feed(con, sales, root, "run").files[0].rows_loaded == 300
    write(root, SALES_FILE, [SALES_HEADER])  # the header alone

    (held, _) = load_feed(con, sales, root, "run").files

    # Before: loaded, 0 rows; the 300 rows gone without a word.
    assert (held.status, held.rows_loaded) == ("held", 0)
    assert held.error == (
        f"{SALES_FILE}: the version landed now has 0 rows, fewer than 50% of the 300 loaded; held back, the 300 rows loaded "
        f"from it stay. If the change is right, confirm it: make run CONFIRM={SALES_FILE}"
    )
    assert con.execute("SELECT count(*) FROM raw.sales").fetchall() == [(300,)]
    assert con.execute("SELECT status FROM audit.file_loads WHERE source_file = ? ORDER BY load_id DESC LIMIT 1", [SALES_FILE]).fetchall() == [("held",)]
    assert load_feed(con, sales, root, "run").files[0].status == "held"  # every run, until confirmed

    (confirmed, _) = load_feed(con, sales, root, "run", confirmed=frozenset({SALES_FILE})).files

    assert (confirmed.status, confirmed.rows_read) == ("loaded", 0)
    assert con.execute("SELECT count(*) FROM raw.sales").fetchall() == [(0,)]


@pytest.mark.unit
@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/zero", "outside dir"])
def test_a_link_out_of_the_landing_zone_is_reported_under_its_own_name_and_not_read(con, root, tmp_path, target):
    if target == "outside dir":
        target = tmp_path / "elsewhere"
        target.mkdir()
    link = root / "sales" / "2020-04" / "pasar_z.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)

    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    # Before: no audit row and no message.
    assert (file.source_file, file.status, file.sha256) == ("sales/2020-04/pasar_z.csv", "rejected", None)
    assert file.error == f"sales/2020-04/pasar_z.csv: a symbolic link to {target}, outside the landing zone: not followed"


@pytest.mark.unit
@pytest.mark.parametrize("how", ["dangling", "loop"])
def test_a_dangling_or_looping_link_is_rejected_under_its_own_name(con, root, how):
    link = root / "sales" / "2020-04" / "pasar_z.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to("pasar_gone.csv" if how == "dangling" else "pasar_z.csv")

    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    # Before: reported as sales/2020-04/pasar_gone.csv (the target's name) for a dangling link.
    assert (file.source_file, file.status) == ("sales/2020-04/pasar_z.csv", "rejected")
    reason = "No such file or directory" if how == "dangling" else "Too many levels of symbolic links"
    target = "pasar_gone.csv" if how == "dangling" else "pasar_z.csv"
    assert file.error == f"sales/2020-04/pasar_z.csv: a symbolic link to {target} that cannot be read ({reason})"


@pytest.mark.unit
@pytest.mark.parametrize("same_files", [True, False])
def test_a_month_folder_replaced_by_a_link_keeps_its_rows_until_confirmed(con, root, tmp_path, same_files):
    sales = CONTRACTS.feeds["sales"]
    write(root, SALES_FILE, sales_lines(500))
    write(root, "sales/2020-04/pasar_b.csv", [line.replace("pasar_a", "pasar_b") for line in sales_lines(20)])
    load_feed(con, sales, root, "run")
    moved = tmp_path / "archive" / "2020-04"
    shutil.move(root / "sales" / "2020-04", moved)
    if not same_files:
        shutil.rmtree(moved)
        moved.mkdir()
    (root / "sales" / "2020-04").symlink_to(moved)

    files = load_feed(con, sales, root, "run").files

    # Before: both files "removed", their 520 rows deleted, the month published as not collected.
    assert [(f.source_file, f.status) for f in files] == [(SALES_FILE, "held"), ("sales/2020-04/pasar_b.csv", "held")]
    why = f"a symbolic link to {moved}, outside the landing zone: not followed" if same_files else f"no longer landed: sales/2020-04 is a symbolic link to {moved}"
    assert files[0].error == (
        f"{SALES_FILE}: {'sales/2020-04 is ' if same_files else ''}{why}; held back, the 500 rows loaded from it stay. "
        f"If the change is right, confirm it: make run CONFIRM={SALES_FILE}"
    )
    assert con.execute("SELECT count(*) FROM raw.sales").fetchall() == [(520,)]

    files = load_feed(con, sales, root, "run", confirmed=frozenset({SALES_FILE})).files

    assert [(f.source_file, f.status) for f in files] == [(SALES_FILE, "removed"), ("sales/2020-04/pasar_b.csv", "held")]
    assert con.execute("SELECT count(*) FROM raw.sales").fetchall() == [(20,)]


NATIONAL_SALES = """
SELECT time_period, round(obs_value / 1e9, 2), obs_status FROM marts.indicators
WHERE indicator_code = 'ONLINE_SALES' AND ref_area = 'ID' AND size_class = '_T' AND breakdown = '_T' AND time_period IN ('2020-07', '2020-10')
ORDER BY time_period
"""


def published_sales(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse / "indicators.duckdb"), read_only=True) as published:
        return published.execute(NATIONAL_SALES).fetchall()


@pytest.mark.integration
def test_a_header_only_resend_and_a_month_behind_a_link_publish_the_rows_loaded_until_confirmed(defs, sample_warehouse, sources_copy, tmp_path):
    from orchestration.defs.raw import CONFIRM_TAG
    from tests.conftest import run_pipeline

    warehouse = sample_warehouse  # the sample's run, on the same landed files as sources_copy
    assert published_sales(warehouse) == [("2020-07", 12.4, "A"), ("2020-10", 13.8, "A")]
    resent = sources_copy / "sales" / "2020-07" / "pasar_b.csv"
    resent.write_text(resent.read_text().splitlines()[0] + "\n")
    moved = tmp_path / "archive" / "2020-10"
    shutil.move(sources_copy / "sales" / "2020-10", moved)
    (sources_copy / "sales" / "2020-10").symlink_to(moved)

    result = run_pipeline(defs, sources_copy, warehouse)

    # Before: 2020-07 republished at 9.34 bn without a warning; 2020-10 as not collected (4,816 raw rows gone).
    assert result.success
    assert published_sales(warehouse) == [("2020-07", 12.4, "A"), ("2020-10", 13.8, "A")]
    with duckdb.connect(str(warehouse / "working.duckdb"), read_only=True) as con:
        held = con.execute("SELECT source_file, error FROM audit.file_loads WHERE run_id = ? AND status = 'held' ORDER BY source_file", [result.run_id]).fetchall()
        assert con.execute("SELECT count(*) FROM raw.sales WHERE source_file LIKE 'sales/2020-10/%'").fetchall() == [(4816,)]
    assert [f for f, _ in held] == [
        "sales/2020-07/pasar_b.csv",
        "sales/2020-10/pasar_a.csv",
        "sales/2020-10/pasar_b.csv",
        "sales/2020-10/pasar_c.parquet",
        "sales/2020-10/pasar_d.csv.gz",
    ]
    assert held[0][1] == (
        "sales/2020-07/pasar_b.csv: the version landed now has 0 rows, fewer than 50% of the 1,251 loaded; held back, the 1,251 rows "
        "loaded from it stay. If the change is right, confirm it: make run CONFIRM=sales/2020-07/pasar_b.csv"
    )
    assert held[1][1].startswith(f"sales/2020-10/pasar_a.csv: sales/2020-10 is a symbolic link to {moved}, outside the landing zone: not followed; held back, the ")

    confirmed = run_pipeline(defs, sources_copy, warehouse, tags={CONFIRM_TAG: '["sales/2020-07/pasar_b.csv"]'})

    assert confirmed.success
    assert published_sales(warehouse) == [("2020-07", 9.34, "A"), ("2020-10", 13.8, "A")]


@pytest.mark.unit
def test_a_file_read_half_written_then_completed_under_the_hash_taken_is_not_loaded_short(con, root, monkeypatch):
    """The writer had the whole file in place when it was hashed and again when it was hashed after
    the read; the reader met 1,199 rows in between. The hashes agree: the records counted from the
    bytes do not."""
    complete = "\n".join(sales_lines(3000)) + "\n"
    path = root / SALES_FILE
    path.parent.mkdir(parents=True)
    path.write_text(complete)
    sniff, read = load_module.file_problem, load_module.READERS["csv"]

    def truncate_after_hashing(feed, landed, connection):
        path.write_text("\n".join(sales_lines(1199)) + "\n")
        return sniff(feed, landed, connection)

    def complete_after_reading(*args):
        unreadable = read(*args)
        path.write_text(complete)
        return unreadable

    monkeypatch.setattr(load_module, "file_problem", truncate_after_hashing)
    monkeypatch.setitem(load_module.READERS, "csv", complete_after_reading)
    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files

    # Before: loaded, 1,199 rows under the complete file's SHA-256; the next run found it unchanged.
    assert (file.status, file.rows_loaded) == ("rejected", 0)
    assert file.error == (
        f"{SALES_FILE}: holds 3,000 rows by the contract's CSV quoting, but the CSV reader returned 1,199 (loaded or quarantined): nothing of it is loaded rather than a part"
    )
    monkeypatch.undo()
    (file,) = load_feed(con, CONTRACTS.feeds["sales"], root, "run").files
    assert (file.status, file.rows_loaded) == ("loaded", 3000)
