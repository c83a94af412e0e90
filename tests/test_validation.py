"""Unit tests of the Pandera schemas built from the contracts and the dbt ymls, run in DuckDB."""

import duckdb
import pytest

from orchestration.contracts import load_contracts
from orchestration.quality.validation import feed_schema, model_schema, row_rules, validate

pytestmark = pytest.mark.unit

CONTRACTS = load_contracts()


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("CREATE SCHEMA raw")
    c.execute(
        "CREATE TABLE raw.provinces AS SELECT * FROM (VALUES ('31', '31', 'DKI Jakarta', NULL, NULL::DATE, NULL::DATE, NULL, 'reference/provinces.csv')) "
        "t(bps_code, kemendagri_code, province_name, name_variants, valid_from, valid_to, split_from, source_file)"
    )
    c.execute(
        """
        CREATE TABLE raw.sales AS SELECT * FROM (VALUES
            (DATE '2020-04-01', 'pasar_a', 'A1', '31', 'MIKRO', 2::BIGINT, 100.00::DECIMAL(18,2), 'sales/2020-04/pasar_a.csv'),
            (DATE '2020-04-02', 'pasar_a', 'A1', '31', 'MIKRO', 1, 50.00, 'sales/2020-04/pasar_a.csv'))
        t(sale_date, platform, merchant_id, province_code, size_class, orders, gross_sales_idr, source_file)
        """
    )
    yield c
    c.close()


def check(con) -> dict[tuple, object]:
    report = validate(con, "raw.sales", feed_schema(CONTRACTS, CONTRACTS.feeds["sales"], con))
    return {(f.column, f.check): f for f in report.failures}


def test_clean_rows_pass(con):
    assert check(con) == {}


@pytest.mark.parametrize(
    "fault, column, rule",
    [
        ("UPDATE raw.sales SET gross_sales_idr = -1 WHERE orders = 1", "gross_sales_idr", "greater_than_or_equal_to(0)"),
        ("UPDATE raw.sales SET orders = -3 WHERE orders = 1", "orders", "greater_than_or_equal_to(0)"),
        ("UPDATE raw.sales SET size_class = 'BESAR' WHERE orders = 1", "size_class", "isin"),
        ("UPDATE raw.sales SET province_code = '99' WHERE orders = 1", "province_code", "references(provinces.bps_code)"),
        ("UPDATE raw.sales SET sale_date = DATE '2020-05-01' WHERE orders = 1", None, "in_file_month(sale_date)"),
        ("UPDATE raw.sales SET sale_date = DATE '2020-04-01'", None, "unique_key(sale_date, platform, merchant_id)"),
        ("UPDATE raw.sales SET merchant_id = NULL WHERE orders = 1", "merchant_id", "not_nullable"),
        ("UPDATE raw.sales SET platform = 'Pasar A' WHERE orders = 1", None, "from_path(platform)"),
    ],
)
def test_each_rule_reports_its_column_and_failing_rows(con, fault, column, rule):
    con.execute(fault)
    failures = check(con)
    matching = [f for (col, name), f in failures.items() if col == column and name.startswith(rule)]
    assert matching, failures
    assert matching[0].count >= 1 and matching[0].sample


def test_a_wrong_type_is_a_failure(con):
    con.execute("ALTER TABLE raw.sales ALTER orders TYPE VARCHAR")
    assert any(col == "orders" and "dtype" in name for col, name in check(con))


def test_a_model_projecting_a_feed_is_checked_for_what_it_derives_not_for_the_contract_again(con):
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.s AS SELECT *, date_trunc('month', sale_date)::DATE AS sale_month FROM raw.sales")
    node = {
        "name": "s",
        "alias": "s",
        "schema": "staging",
        "meta": {"feed": "sales"},
        "columns": {
            "gross_sales_idr": {"name": "gross_sales_idr"},
            "orders": {"name": "orders"},
            "sale_month": {"name": "sale_month", "data_type": "DATE", "meta": {"rules": {"required": True, "max": "2020-03-31"}}},
        },
    }
    schema = model_schema(node, CONTRACTS, con)
    assert len(row_rules(schema)) == 2  # the derived column's two rules; the projected columns' types read no row
    # A contract rule broken in the projected rows is ingest's to catch, not this model's.
    con.execute("UPDATE staging.s SET gross_sales_idr = -1")
    found = {(f.column, f.check) for f in validate(con, "staging.s", schema).failures}
    assert found == {("sale_month", "less_than_or_equal_to(2020-03-31)")}
    # What the model could break is caught: a projected column's type, a derived column's rules.
    con.execute("ALTER TABLE staging.s ALTER orders TYPE VARCHAR")
    con.execute("UPDATE staging.s SET sale_month = NULL WHERE orders = '1'")
    found = {(f.column, f.check) for f in validate(con, "staging.s", schema).failures}
    assert ("orders", "dtype('int64')") in found and ("sale_month", "not_nullable") in found


def test_a_scope_is_checked_alone_and_its_keys_against_the_whole_table(con):
    # Nine more rows in other files, then a row in a new file that repeats an old key and breaks a rule.
    con.execute(
        """
        INSERT INTO raw.sales SELECT DATE '2020-04-03' + i::INTEGER, 'pasar_b', 'B' || i, '31', 'MIKRO', 1, 10.00, 'sales/2020-04/pasar_b.csv'
        FROM range(9) r(i)
        """
    )
    con.execute("INSERT INTO raw.sales VALUES (DATE '2020-04-01', 'pasar_a', 'A1', '31', 'BESAR', 1, 5.00, 'sales/2020-04/pasar_c.csv')")
    schema = feed_schema(CONTRACTS, CONTRACTS.feeds["sales"], con)
    report = validate(con, "raw.sales", schema, where=lambda t: t.source_file == "sales/2020-04/pasar_c.csv")
    assert report.rows == 1
    found = {(f.column, f.check): f for f in report.failures}
    assert found[(None, "unique_key(sale_date, platform, merchant_id)")].count == 2  # the new row and the old one
    assert any(column == "size_class" and check.startswith("isin") for column, check in found)


def test_every_rule_of_a_table_is_one_query_without_joins(con):
    import ibis

    from orchestration.quality.validation import folded, ibis_backend

    backend = ibis_backend(con)
    rules = row_rules(feed_schema(CONTRACTS, CONTRACTS.feeds["sales"], con))
    assert len(rules) >= 10
    query = folded(backend.table("sales", database="raw"), rules)
    sql = ibis.to_sql(query, dialect="duckdb").upper()
    # One scan of the table; Pandera's built-in checks would join a projection back to it per rule.
    assert sql.count("FROM") == 1 and "JOIN" not in sql and "ROW_NUMBER" not in sql
    assert query.to_pyarrow().to_pylist() == [{"rows": 2, **{f"r{i}": True for i in range(len(rules))}}]
