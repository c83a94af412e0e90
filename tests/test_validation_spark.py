"""The same Pandera schemas on the Spark engine as in DuckDB: the same tables in each
engine, typed as each engine types them, pass or fail with the same report.

One local Spark session for the file (its JVM starts once), its catalog in a temporary lake.
"""

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal

import dagster as dg
import duckdb
import ibis
import pytest

from orchestration import settings
from orchestration.contracts import load_contracts
from orchestration.defs.checks import model_check_result
from orchestration.defs.resources import WarehouseResource
from orchestration.engines import DuckDBEngine
from orchestration.engines.spark import SparkEngine, stop_session
from orchestration.quality.validation import feed_schema, model_schema, validate

# pyspark's conversions from pandas use a keyword pandas 3 deprecates.
pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

CONTRACTS = load_contracts()
MANIFEST = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())


def node(name: str) -> dict:
    return next(n for n in MANIFEST["nodes"].values() if n["resource_type"] == "model" and n["name"] == name)


@pytest.fixture(scope="module")
def spark_engine(tmp_path_factory) -> SparkEngine:
    """A local session (a few rows: one task per aggregate) with its catalog in a lake of this module's."""
    return SparkEngine(lake=tmp_path_factory.mktemp("lake"), master="local[2]", shuffle_partitions="1")


@pytest.fixture(scope="module")
def spark(spark_engine):
    stop_session()  # another module's, in its own lake: this one starts with a catalog of its own
    session = spark_engine.session()
    for schema in ("raw", "staging", "marts"):
        session.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
    yield session
    stop_session()


@pytest.fixture(scope="module")
def engines(spark):
    con = duckdb.connect()
    for schema in ("raw", "staging", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    yield {"duckdb": ibis.duckdb.from_connection(con), "spark": ibis.pyspark.connect(spark)}
    con.close()


def create(engines, table: str, columns: dict[str, tuple[str, str]], rows: list[tuple]) -> None:
    """The same rows as a table in each engine, each column typed as each engine would type it
    (DuckDB's type, Spark's), Spark's a Parquet table in its catalog as dbt-spark builds them."""
    create_in_duckdb(engines["duckdb"].con, table, columns, rows)
    session = engines["spark"]._session
    frame = session.createDataFrame(rows, schema=", ".join(f"{c} {types[1]}" for c, types in columns.items()))
    frame.write.mode("overwrite").format("parquet").saveAsTable(table)


def create_in_duckdb(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, tuple[str, str]], rows: list[tuple]) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {table} ({', '.join(f'{c} {types[0]}' for c, types in columns.items())})")
    con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})", rows)


def reports(engines, table: str, schema_of, **options) -> dict[str, list[tuple]]:
    """Each engine's report as (column, check, count, sample) rows, and its rows checked."""
    found = {}
    for name, backend in engines.items():
        report = validate(backend, table, schema_of(backend), **options)
        found[name] = [report.rows, *((f.column, f.check, f.count, f.sample) for f in report.failures)]
    return found


def same_report(engines, table: str, schema_of, **options) -> list[tuple]:
    found = reports(engines, table, schema_of, **options)
    assert found["spark"] == found["duckdb"]
    return found["duckdb"]


# marts.online_sales_monthly: a monthly mart whose yml declares what it derives (sums >= 0, at
# least one merchant) and types its partition column. Its sums are typed by each engine (DuckDB's
# sum of BIGINT is a HUGEINT, Spark's a BIGINT): the yml declares no type for them.
MONTHLY = {
    "sale_month": ("DATE", "date"),
    "province_code": ("VARCHAR", "string"),
    "size_class": ("VARCHAR", "string"),
    "platform": ("VARCHAR", "string"),
    "gross_sales_idr": ("DECIMAL(38,2)", "decimal(28,2)"),
    "orders": ("HUGEINT", "bigint"),
    "active_merchants": ("BIGINT", "bigint"),
}


def monthly_rows(month: dt.date, broken: bool = False) -> list[tuple]:
    rows = [
        (month, "31", size, platform, Decimal(f"{100 * i}.50"), 3 * i, i)
        for i, (size, platform) in enumerate([(s, p) for s in ("MIKRO", "KECIL") for p in ("pasar_a", "pasar_b", "_T")], start=1)
    ]
    if broken:  # a negative sum, a month without merchants, a row without its month
        rows[1] = (*rows[1][:4], Decimal("-250.00"), *rows[1][5:])
        rows[2] = (*rows[2][:6], 0)
        rows[4] = (*rows[4][:4], Decimal("-1.25"), *rows[4][5:])
    return rows


def test_a_monthly_mart_is_checked_alike_for_the_runs_months(engines):
    months = [dt.date(2020, m, 1) for m in (3, 4, 5)]
    table, key = "marts.online_sales_monthly", dg.AssetKey(["marts", "online_sales_monthly"])
    mart = node("online_sales_monthly")
    clean = [row for month in months for row in monthly_rows(month)]
    create(engines, table, MONTHLY, clean)
    results = {name: model_check_result(backend, key, table, mart, ("2020-04-01", "2020-04-01")) for name, backend in engines.items()}
    assert all(r.passed for r in results.values()), [r.description for r in results.values()]
    assert {r.metadata["rows_checked"].value for r in results.values()} == {6}

    # The run's month breaks two rules the mart derives; another month's rows are not the run's to judge.
    create(engines, table, MONTHLY, [*monthly_rows(months[0], broken=True), *monthly_rows(months[1], broken=True), *monthly_rows(months[2])])
    results = {name: model_check_result(backend, key, table, mart, ("2020-04-01", "2020-04-01")) for name, backend in engines.items()}
    assert results["spark"].description == results["duckdb"].description
    assert results["spark"].metadata == results["duckdb"].metadata
    assert not results["spark"].passed
    assert results["spark"].metadata["failure_cases"].value == [
        {"column": "gross_sales_idr", "check": "greater_than_or_equal_to(0)", "count": 2, "sample": [{"gross_sales_idr": "-1.25"}, {"gross_sales_idr": "-250.00"}]},
        {"column": "active_merchants", "check": "greater_than_or_equal_to(1)", "count": 1, "sample": [{"active_merchants": 0}]},
    ]


# staging.stg_sales__daily_sales projects the sales feed: the contract's types (DATE, VARCHAR,
# BIGINT, DECIMAL(18,2)) as each engine stores them, and the month it derives.
DAILY = {
    "platform": ("VARCHAR", "string"),
    "merchant_id": ("VARCHAR", "string"),
    "province_code": ("VARCHAR", "string"),
    "size_class": ("VARCHAR", "string"),
    "sale_date": ("DATE", "date"),
    "sale_month": ("DATE", "date"),
    "orders": ("BIGINT", "bigint"),
    "gross_sales_idr": ("DECIMAL(18,2)", "decimal(18,2)"),
    "source_file": ("VARCHAR", "string"),
}


def daily_rows(month_of=lambda day: day.replace(day=1)) -> list[tuple]:
    days = [dt.date(2020, 4, d) for d in (1, 2, 3)]
    return [
        ("pasar_a", f"A{i}", "31", "MIKRO", day, month_of(day) if i != 2 else month_of(day), i, Decimal(f"{10 * i}.00"), "sales/2020-04/pasar_a.csv")
        for i, day in enumerate(days, start=1)
    ]


def test_a_staging_model_passes_with_each_engines_types_and_fails_alike_on_a_wrong_one(engines):
    staging = node("stg_sales__daily_sales")

    def schema(backend):
        return model_schema(staging, CONTRACTS, backend)

    create(engines, "staging.stg_sales__daily_sales", DAILY, daily_rows())
    assert same_report(engines, "staging.stg_sales__daily_sales", schema) == [3]

    # The model loses a row's month and narrows a projected column's type.
    narrowed = {**DAILY, "orders": ("INTEGER", "int")}
    create(engines, "staging.stg_sales__daily_sales", narrowed, daily_rows(lambda day: None if day.day == 2 else day.replace(day=1)))
    assert same_report(engines, "staging.stg_sales__daily_sales", schema) == [
        3,
        ("sale_month", "not_nullable", 1, [{"sale_month": None}]),
        ("orders", "dtype('int64')", 1, ["int32"]),
    ]


def test_a_timestamp_and_a_boolean_are_compared_as_each_engine_stores_them(engines):
    # The contract's TIMESTAMP is DuckDB's timestamp(6), Spark's timestamp: both are the contract's type.
    registrations = node("stg_training__registrations")
    contract = {c.name: c.type for c in CONTRACTS.feeds["training_registrations"].columns}
    spark_types = {"VARCHAR": "string", "TIMESTAMP": "timestamp", "INTEGER": "int", "BOOLEAN": "boolean"}
    values = {"VARCHAR": "x", "TIMESTAMP": dt.datetime(2020, 6, 15, 9, 30), "INTEGER": 3, "BOOLEAN": True}
    declared = {name: contract.get(name) or spec.get("data_type") or "VARCHAR" for name, spec in registrations["columns"].items()}
    row = tuple(values[type_name] for type_name in declared.values())

    def schema(backend):
        return model_schema(registrations, CONTRACTS, backend)

    create(engines, "staging.stg_training__registrations", {name: (t, spark_types[t]) for name, t in declared.items()}, [row])
    assert same_report(engines, "staging.stg_training__registrations", schema) == [1]
    # The model turns its flag into text.
    wrong = {name: ("VARCHAR", "string") if name == "was_accepted" else (t, spark_types[t]) for name, t in declared.items()}
    create(engines, "staging.stg_training__registrations", wrong, [tuple("yes" if name == "was_accepted" else v for name, v in zip(declared, row, strict=True))])
    assert same_report(engines, "staging.stg_training__registrations", schema) == [1, ("was_accepted", "dtype('boolean')", 1, ["string"])]


SALES = {
    "sale_date": ("DATE", "date"),
    "platform": ("VARCHAR", "string"),
    "merchant_id": ("VARCHAR", "string"),
    "province_code": ("VARCHAR", "string"),
    "size_class": ("VARCHAR", "string"),
    "orders": ("BIGINT", "bigint"),
    "gross_sales_idr": ("DECIMAL(18,2)", "decimal(18,2)"),
    "source_file": ("VARCHAR", "string"),
}
PROVINCES = {
    "bps_code": ("VARCHAR", "string"),
    "kemendagri_code": ("VARCHAR", "string"),
    "iso_3166_2": ("VARCHAR", "string"),
    "province_name": ("VARCHAR", "string"),
    "name_variants": ("VARCHAR", "string"),
    "valid_from": ("DATE", "date"),
    "valid_to": ("DATE", "date"),
    "split_from": ("VARCHAR", "string"),
    "source_file": ("VARCHAR", "string"),
}


def test_a_feeds_rules_and_key_are_checked_alike_on_a_loads_files(engines):
    """The whole vocabulary on Spark: references and validity looked up in the engine, the file
    path's fields, and duplicate keys among the whole table for a load's rows (a scoped copy)."""
    create(
        engines,
        "raw.provinces",
        PROVINCES,
        [
            ("31", "31", "ID-JK", "DKI Jakarta", None, None, None, None, "reference/provinces.csv"),
            ("65", "65", "ID-KU", "Kalimantan Utara", None, dt.date(2020, 5, 1), None, "64", "reference/provinces.csv"),
        ],
    )
    late = "sales/2020-04/pasar_a__late.csv"
    old = [(dt.date(2020, 4, d), "pasar_a", f"A{d}", "31", "MIKRO", d, Decimal("10.00"), "sales/2020-04/pasar_a.csv") for d in range(1, 10)]
    new = [
        (dt.date(2020, 4, 1), "pasar_a", "A1", "31", "KECIL", 1, Decimal("5.00"), late),  # an old row's key
        (dt.date(2020, 5, 2), "pasar_a", "N1", "99", "BESAR", -1, Decimal("-5.00"), late),
        (dt.date(2020, 4, 3), "pasar_b", "N2", "31", "MIKRO", 1, Decimal("5.00"), late),
        (dt.date(2020, 4, 4), "pasar_a", "N3", "65", "MIKRO", 1, Decimal("5.00"), late),  # a province from May
    ]
    create(engines, "raw.sales", SALES, [*old, *new])

    def schema(backend):
        return feed_schema(CONTRACTS, CONTRACTS.feeds["sales"], backend)

    def row(values: tuple) -> dict:
        return {**dict(zip(SALES, values, strict=True)), "sale_date": f"{values[0]}T00:00:00", "gross_sales_idr": str(values[6])}

    assert same_report(engines, "raw.sales", schema, where=lambda t: t.source_file == late) == [
        4,
        (None, "unique_key(sale_date, platform, merchant_id)", 2, [{"sale_date": "2020-04-01", "platform": "pasar_a", "merchant_id": "A1"}]),
        (None, "in_file_month(sale_date)", 1, [row(new[1])]),
        (None, "from_path(platform)", 1, [row(new[2])]),
        (None, "valid_in_period(province_code)", 1, [row(new[3])]),
        ("province_code", "references(provinces.bps_code)", 1, [{"province_code": "99"}]),
        ("size_class", "isin(['ULTRA_MIKRO', 'MIKRO', 'KECIL', 'MENENGAH'])", 1, [{"size_class": "BESAR"}]),
        ("orders", "greater_than_or_equal_to(0)", 1, [{"orders": -1}]),
        ("gross_sales_idr", "greater_than_or_equal_to(0)", 1, [{"gross_sales_idr": "-5.00"}]),
    ]
    # Most of the table (no copy): the old file's rows are clean, but one shares its key with the late file.
    assert same_report(engines, "raw.sales", schema, where=lambda t: t.source_file == "sales/2020-04/pasar_a.csv") == [
        9,
        (None, "unique_key(sale_date, platform, merchant_id)", 2, [{"sale_date": "2020-04-01", "platform": "pasar_a", "merchant_id": "A1"}]),
    ]


def test_the_checks_validate_where_the_engine_holds_the_models(engines, spark_engine, tmp_path):
    """The warehouse resource gives the checks the engine it is configured with: Spark's session, or
    the working database; the releases' engine is DuckDB on Spark too."""
    lake = {"lake_dir": str(spark_engine.lake), "spark_master": spark_engine.master}
    on_spark = WarehouseResource(sources_dir=str(tmp_path), warehouse_dir=str(tmp_path), engine="spark", **lake)
    key, mart = dg.AssetKey(["marts", "online_sales_monthly"]), node("online_sales_monthly")
    create(engines, "marts.online_sales_monthly", MONTHLY, monthly_rows(dt.date(2020, 4, 1), broken=True))
    with duckdb.connect(str(on_spark.working_db)) as con:
        con.execute("CREATE SCHEMA marts")
        create_in_duckdb(con, "marts.online_sales_monthly", MONTHLY, monthly_rows(dt.date(2020, 4, 1)))

    assert on_spark.run_engine == SparkEngine(lake=spark_engine.lake, master=spark_engine.master)  # the rest the settings'
    with on_spark.models_backend() as backend:
        assert backend.name == "pyspark" and backend._session is engines["spark"]._session
        assert not model_check_result(backend, key, "marts.online_sales_monthly", mart).passed  # Spark's table, not DuckDB's
    with on_spark.models_backend(on_spark.run_engine.releases) as backend:
        assert backend.name == "duckdb" and model_check_result(backend, key, "marts.online_sales_monthly", mart).passed

    on_duckdb = WarehouseResource(sources_dir=str(tmp_path), warehouse_dir=str(tmp_path), **lake)
    assert isinstance(on_duckdb.run_engine, DuckDBEngine)
    with on_duckdb.models_backend() as backend:
        assert backend.name == "duckdb" and model_check_result(backend, key, "marts.online_sales_monthly", mart).passed


def test_a_duckdb_run_never_imports_spark(tmp_path):
    """The DuckDB engine's checks never import pyspark (nor the Spark engine's module), where a
    session and its JVM start: a process of its own, as this one has Spark loaded."""
    script = (
        "import sys, duckdb\n"
        "from orchestration.defs.resources import WarehouseResource\n"
        "warehouse = WarehouseResource(sources_dir=sys.argv[1], warehouse_dir=sys.argv[1])\n"
        "duckdb.connect(str(warehouse.working_db)).close()\n"
        "with warehouse.models_backend() as backend:\n"
        "    assert backend.name == 'duckdb'\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pyspark', 'orchestration.engines.spark'))))\n"
    )
    found = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True, cwd=settings.REPO_ROOT)
    assert found.stdout.strip() == "[]", found.stderr
