"""The same assets on the Spark engine (a local session): the sample's raw layer as a
Parquet lake, the dbt project through dbt-spark, Pandera on the session, and a published
`marts.indicators` equal to the DuckDB run's.

One Spark session per test process (its JVM and catalog), in a lake of this module's.
"""

import math
import shutil

import dagster as dg
import duckdb
import pytest

from orchestration import settings
from orchestration.engines.spark import SparkEngine, stop_session
from tests.conftest import SAMPLE_SOURCES, run_pipeline

KEY = ["indicator_code", "ref_area", "size_class", "breakdown", "time_period"]
# Spark's round() is HALF_UP on the shortest decimal that prints a double, DuckDB's rounds the exact
# binary value: the models round through a macro that does DuckDB's on both (macros/rounding.sql).
# Values must agree to the fourth decimal; on the sample they agree to the last bit.
DECIMALS = 4

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]  # pyspark's pandas conversion, under pandas 3


@pytest.fixture(scope="module")
def spark_engine(tmp_path_factory):
    """The Spark engine of this module's runs: a local session, the lake in a temporary dir."""
    engine = SparkEngine(lake=tmp_path_factory.mktemp("lake"), master="local[2]")
    yield engine
    stop_session()  # the next module's session starts with a catalog of its own


def run_on_spark(defs, engine: SparkEngine, sources_dir, warehouse_dir, **options):
    """The pipeline with the warehouse resource configured for this engine."""
    return run_pipeline(defs, sources_dir, warehouse_dir, engine=engine.name, lake_dir=str(engine.lake), spark_master=engine.master, **options)


@pytest.fixture(scope="module")
def spark_run(defs, spark_engine, tmp_path_factory):
    warehouse_dir = tmp_path_factory.mktemp("spark_warehouse")
    result = run_on_spark(defs, spark_engine, SAMPLE_SOURCES, warehouse_dir)
    return result, warehouse_dir


def test_the_spark_run_succeeds_with_every_check(spark_run):
    result, _ = spark_run
    assert result.success
    failed = [(c.asset_key.to_user_string(), c.check_name, c.description) for c in result.get_asset_check_evaluations() if not c.passed]
    assert failed == []


def test_the_raw_layer_is_a_lake_registered_in_spark(spark_run, spark_engine):
    _, warehouse_dir = spark_run
    spark = spark_engine.session()
    months = sorted(p.name for p in (spark_engine.lake / "raw" / "sales").glob("landed_month=*"))
    assert months[0] == "landed_month=2019-01" and len(months) == 24
    partitions = [r[0] for r in spark.sql("SHOW PARTITIONS raw.sales").collect()]
    assert partitions == months
    with duckdb.connect(str(warehouse_dir / settings.WORKING_DB_NAME), read_only=True) as con:
        for schema, table in [("raw", "sales"), ("raw", "onboarding"), ("raw", "provinces"), ("audit", "loaded_files")]:
            (expected,) = con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()
            assert spark.sql(f"SELECT count(*) FROM {schema}.{table}").collect()[0][0] == expected, table


def test_published_indicators_equal_the_duckdb_run(spark_run, published):
    _, warehouse_dir = spark_run
    columns = ", ".join([*KEY, "obs_value", "obs_status", "unit_measure"])
    query = f"SELECT {columns} FROM marts.indicators ORDER BY {', '.join(KEY)}"
    duck = published.execute(query).fetchall()
    with duckdb.connect(str(warehouse_dir / settings.PUBLISHED_DB_NAME), read_only=True) as con:
        spark = con.execute(query).fetchall()
    assert [r[:5] for r in spark] == [r[:5] for r in duck]  # same keys
    assert [r[6:] for r in spark] == [r[6:] for r in duck]  # same statuses and units
    differ = [
        (d[:5], d[5], s[5])
        for d, s in zip(duck, spark, strict=True)
        if (d[5] is None) != (s[5] is None) or (d[5] is not None and not math.isclose(d[5], s[5], rel_tol=0, abs_tol=0.5 * 10**-DECIMALS))
    ]
    assert differ == []


def test_headline_figures_hold_on_spark(spark_run):
    from tests.test_pipeline import indicator

    _, warehouse_dir = spark_run
    with duckdb.connect(str(warehouse_dir / settings.PUBLISHED_DB_NAME), read_only=True) as con:
        assert indicator(con, "ONLINE_SALES_GROWTH_VS_BASE", period="2020-04") == (480.0, "A", "PCT")
        value, status, unit = indicator(con, "ONBOARDING_RATE", size_class="ULTRA_MIKRO", period="2020-10")
        assert (round(value, 2), status, unit) == (14.69, "A", "PCT")
        assert indicator(con, "TRAINING_OVERSUBSCRIPTION", breakdown="umkm_go_digital", period="2020") == (260.0, "A", "PCT")


def test_a_corrupted_feed_fails_pandera_on_spark_and_publishes_nothing(defs, spark_engine, spark_run, tmp_path):
    """A month of onboarding counts that each meet the contract, but exceed the enterprises there
    are: ingest loads it, the onboarding rate goes past 100 %, and Pandera on Spark stops the run
    before the releases and publishing. Runs last: it leaves the module's warehouse damaged."""
    _, warehouse_dir = spark_run
    sources = tmp_path / "sources"
    shutil.copytree(SAMPLE_SOURCES, sources)
    april = sources / "onboarding" / "2020-04.csv"
    header, first, *rest = april.read_text().splitlines()
    # 2020-04, one province, one size class: within the contract's plausible range (70 million), beyond the province's enterprises
    first = first.rsplit(",", 1)[0] + ",60000000"
    april.write_text("\n".join([header, first, *rest]) + "\n")
    published_before = (warehouse_dir / settings.PUBLISHED_DB_NAME).read_bytes()
    months_before = _onboarded_months(spark_engine)

    # The month's run of what the rate is computed from and of what is built from it (the releases, publishing).
    rate = dg.AssetSelection.assets(["marts", "onboarding_rate"])
    corrupted = run_on_spark(defs, spark_engine, sources, warehouse_dir, partition_key="2020-04-01", selection=rate.upstream() | rate.downstream())
    assert not corrupted.success
    failed = {(c.asset_key.to_user_string(), c.check_name): c for c in corrupted.get_asset_check_evaluations() if not c.passed}
    assert set(failed) == {("marts/onboarding_rate", "pandera_schema")}, failed
    cases = failed[("marts/onboarding_rate", "pandera_schema")].metadata["failure_cases"].value
    assert {(c["column"], c["check"]) for c in cases} == {("onboarding_rate_pct", "less_than_or_equal_to(100)")}
    assert all(value["onboarding_rate_pct"] > 100 for c in cases for value in c["sample"])
    # The contract check passed: every row met it, nothing quarantined.
    contract = [c.passed for c in corrupted.get_asset_check_evaluations() if (c.asset_key.to_user_string(), c.check_name) == ("raw/onboarding", "contract")]
    assert contract == [True]
    assert (warehouse_dir / settings.PUBLISHED_DB_NAME).read_bytes() == published_before
    # The month's models were rebuilt on Spark by insert_overwrite of that month alone.
    assert _onboarded_months(spark_engine) == months_before and len(months_before) == 24


def _onboarded_months(engine: SparkEngine) -> list:
    return [r[0] for r in engine.session().sql("SELECT DISTINCT onboarded_month FROM staging.stg_onboarding__onboarded ORDER BY 1").collect()]
