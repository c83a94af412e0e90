"""Absurd values through the real assets: beyond the contract's plausible range they are quarantined;
within it, a month they carry is published only with a warning naming them and the rows."""

import shutil
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from orchestration.cli.report import implausible_line, warning_lines
from tests.conftest import SAMPLE_SOURCES, run_pipeline

pytestmark = pytest.mark.integration

FILE = "sales/2020-06/pasar_a.csv"
AT_MAXIMUM = ("100000", "50000000000.00")  # the contract's plausible maxima of a merchant-day
CHANGES = {  # line: (orders, gross_sales_idr), None where the landed field is kept
    6: (None, "9999999999999999.99"),  # the published 10,000,012.60 bn
    7: ("2.7", None),  # loaded as 3
    8: ("1_000_000", None),  # loaded as a million
    9: AT_MAXIMUM,
    10: AT_MAXIMUM,
    11: ("5000000000000000000", None),  # two of these overflowed sum(orders)::bigint in dbt_monthly
    12: ("5000000000000000000", None),
}


def sample_month(sql: str, params=()) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(sql.format(file=SAMPLE_SOURCES / FILE), list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def absurd_run(defs, tmp_path_factory):
    sources = tmp_path_factory.mktemp("plausibility") / "sources"
    shutil.copytree(SAMPLE_SOURCES, sources)
    path = sources / FILE
    lines = path.read_text().splitlines()
    merchants = []
    for line, (orders, gross) in CHANGES.items():
        fields = lines[line - 1].split(",")
        merchants.append(fields[2])
        fields[5], fields[6] = orders or fields[5], gross or fields[6]
        lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    warehouse = tmp_path_factory.mktemp("warehouse")
    return run_pipeline(defs, sources, warehouse), warehouse, merchants


def test_values_beyond_the_plausible_range_and_numbers_that_are_not_integers_are_quarantined(absurd_run):
    result, warehouse, _ = absurd_run
    assert result.success
    con = duckdb.connect(str(warehouse / "working.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT line, column_name, rule, reason FROM quarantine.sales WHERE source_file = ? ORDER BY line", [FILE]).fetchall()
    finally:
        con.close()
    orders_maximum = (
        "above the plausible maximum 100,000: one merchant's orders in one day: 100,000 is more than one order a second "
        "around the clock (86,400 seconds a day), beyond what a UMKM can pack and ship"
    )
    assert rows == [
        (6, "gross_sales_idr", "plausible",
         "`gross_sales_idr` is 9999999999999999.99, above the plausible maximum 50,000,000,000: one merchant's sales in one day: "
         "Rp 50 billion is a whole year's sales of the largest UMKM, a medium enterprise (annual sales up to Rp 50 billion, PP 7/2021 art. 35)"),
        (7, "orders", "type", "`orders` value '2.7' is not a BIGINT (a whole number in digits, e.g. 1250)"),
        (8, "orders", "type", "`orders` value '1_000_000' is not a BIGINT (a whole number in digits, e.g. 1250)"),
        (11, "orders", "plausible", f"`orders` is 5000000000000000000, {orders_maximum}"),
        (12, "orders", "plausible", f"`orders` is 5000000000000000000, {orders_maximum}"),
    ]  # fmt: skip


def test_sums_at_the_plausible_maximum_do_not_overflow_and_are_published_exactly(absurd_run):
    result, warehouse, merchants = absurd_run
    # Computed from the sample file itself: its month without the changed lines, plus the two at the maximum.
    kept = "FROM read_csv('{file}', all_varchar = true) WHERE merchant_id NOT IN (SELECT unnest(?)) OR sale_date <> '2020-06-01'"
    ((sample_orders, sample_gross),) = sample_month(f"SELECT sum(orders::BIGINT), sum(gross_sales_idr::DECIMAL(18,2)) {kept}", [merchants])
    other_files = "SELECT sum(gross_sales_idr) FROM marts.online_sales_monthly WHERE sale_month = '2020-06-01' AND platform <> 'pasar_a'"
    con = duckdb.connect(str(warehouse / "indicators.duckdb"), read_only=True)
    try:
        pasar_a = con.execute("SELECT sum(orders), sum(gross_sales_idr) FROM marts.online_sales_monthly WHERE sale_month = '2020-06-01' AND platform = 'pasar_a'").fetchall()[0]
        ((others,),) = con.execute(other_files).fetchall()
        ((national,),) = con.execute(
            "SELECT obs_value FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES' AND ref_area = 'ID' AND size_class = '_T' "
            "AND breakdown = '_T' AND time_period = '2020-06'"
        ).fetchall()
    finally:
        con.close()
    assert pasar_a == (sample_orders + 200_000, sample_gross + Decimal("100000000000.00"))
    assert national == pytest.approx(float(pasar_a[1] + others), rel=1e-15)
    assert round(national / 1e9, 2) == 112.59  # not 10,000,012.60 bn; with the two rows at the maximum, not 12.59 either


def test_a_month_carried_by_a_few_rows_is_published_with_a_warning_naming_them(absurd_run):
    result, _, _ = absurd_run
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "sales_change_plausible"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    flagged = check.metadata["flagged"].value
    assert [(f["series"], f["month"]) for f in flagged] == [("ID/_T", "2020-06"), ("ID/MIKRO", "2020-06"), ("ID/ULTRA_MIKRO", "2020-06")]
    national = check.description.split("; ID/MIKRO")[0]
    assert national.startswith(
        "ID/_T 2020-06: online sales IDR 112.59 bn, MoM +822.9 % while the median province moved +4.5%: ×8.8 beyond it, "
        "where its 16 earlier months were at most ×1.28 (flagged beyond ×2.72); largest rows of 2020-06: "
        "sales/2020-06/pasar_a.csv 2020-06-01 merchant A0000018 gross_sales_idr 50,000,000,000.00 (44.4%); "
        "sales/2020-06/pasar_a.csv 2020-06-01 merchant A0000029 gross_sales_idr 50,000,000,000.00 (44.4%); "
    ), national
    assert [r["merchant_id"] for r in flagged[0]["top_rows"][:2]] == ["A0000018", "A0000029"]
    # What `make run` prints: the warning, and a line saying the run published such a month.
    assert any(line.startswith("  WARN marts/sales_growth:sales_change_plausible: ID/_T 2020-06: ") for line in warning_lines(result))
    assert implausible_line(result) == (
        "Published with 3 implausible month(s) of online sales: ID/_T 2020-06, ID/MIKRO 2020-06, ID/ULTRA_MIKRO 2020-06; "
        "see WARN marts/sales_growth:sales_change_plausible for the rows that carry them."
    )
