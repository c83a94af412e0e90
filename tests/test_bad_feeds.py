"""Bad input through the real assets: quarantine within the limit, blocked beyond it, nothing lost."""

import shutil

import dagster as dg
import duckdb
import pytest
import yaml

from tests.conftest import FIXTURES, land, run_pipeline

pytestmark = pytest.mark.integration

# Raw and staging layers: enough to see a blocking raw check stop dbt, without building marts.
RAW_AND_STAGING = dg.AssetSelection.groups("raw", "staging")


def failed_checks(result):
    return {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations() if not c.passed}


def checks(result):
    return {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}


def materialized(result):
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def query(warehouse_dir, sql, params=()):
    con = duckdb.connect(str(warehouse_dir / "working.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_a_few_bad_rows_are_quarantined_and_the_run_goes_on_with_a_warning(defs, sources_copy, tmp_path):
    path = sources_copy / "sales" / "2020-04" / "pasar_b.csv"
    lines = path.read_text().splitlines()
    fields = lines[5].split(",")
    fields[-1] = "-125000.00"
    lines[5] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")

    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=RAW_AND_STAGING)

    assert result.success
    check = checks(result)[("raw/sales", "contract")]
    assert check.passed
    assert "warning: sales/2020-04/pasar_b.csv: 0.1% of rows quarantined (1 of 1,194), limit 1.0%" in check.description
    # Ingest enforced the contract: the check says which rule it quarantined by, no second pass over the rows.
    assert check.metadata["quarantined_by_rule"].value == [
        {"rule": "min", "column": "gross_sales_idr", "count": 1, "sample": ["`gross_sales_idr` is -125000.00, below the minimum 0"]}
    ]
    assert "staging/stg_sales__daily_sales" in materialized(result)
    warehouse = tmp_path / "warehouse"
    assert query(warehouse, "SELECT line, rule, reason FROM quarantine.sales") == [(6, "min", "`gross_sales_idr` is -125000.00, below the minimum 0")]
    assert query(warehouse, "SELECT count(*) FROM raw.sales WHERE gross_sales_idr < 0") == [(0,)]
    raw_event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw/sales")
    metadata = raw_event.materialization.metadata
    assert (metadata["rows_quarantined"].value, metadata["files_loaded"].value) == (1, 90)
    assert metadata["rows_read"].value == metadata["rows_loaded"].value + 1


def test_a_file_over_the_quarantine_limit_blocks_everything_downstream(defs, sources_copy, tmp_path):
    # Two rows break rules; the other two repeat keys of the sample file pasar_a.csv.
    shutil.copy(FIXTURES / "landing" / "sales" / "2020-04" / "pasar_a__text_in_number.csv", sources_copy / "sales" / "2020-04")

    instance = dg.DagsterInstance.ephemeral()
    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=RAW_AND_STAGING, instance=instance)

    assert not result.success
    check = failed_checks(result)[("raw/sales", "contract")]
    assert check.description.startswith("sales/2020-04/pasar_a__text_in_number.csv: 100.0% of rows quarantined (4 of 4), limit 1.0%")
    # The step fails before raw/sales is recorded: none of the run's 24 months is materialized.
    assert "raw/sales" not in materialized(result)
    assert instance.get_materialized_partitions(dg.AssetKey(["raw", "sales"])) == set()
    [failure] = [e for e in result.all_events if e.is_step_failure and e.step_key == "raw__sales"]
    assert "raw/sales is not recorded as materialized: its blocking check contract failed." in failure.step_failure_data.error.message
    assert "raw/provinces" in materialized(result) and instance.get_latest_materialization_event(dg.AssetKey(["raw", "provinces"]))
    # Nothing built from sales runs; staging views of the other feeds do.
    assert "staging/stg_sales__daily_sales" not in materialized(result)
    assert "staging/stg_reference__provinces" in materialized(result)
    assert not (tmp_path / "warehouse" / "indicators.duckdb").exists()


def test_population_total_mismatch_names_year_and_both_figures(defs, sources_copy, tmp_path):
    path = sources_copy / "population" / "umkm_population_2020.csv"
    path.write_text(path.read_text().replace("INDONESIA;64.000.000;", "INDONESIA;64.000.100;"))

    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=dg.AssetSelection.groups("raw"))

    check = failed_checks(result)[("raw/population", "national_total_matches_provinces")]
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert "year 2020 ULTRA_MIKRO: national total 64,000,100 but the provinces sum to 64,000,000" in check.description
    assert "population/umkm_population_2020.csv: line 39" in check.description


def test_a_renamed_column_rejects_that_file_only(defs, sources_copy, tmp_path):
    path = sources_copy / "sales" / "2020-04" / "pasar_b.csv"
    path.write_text(path.read_text().replace("gross_sales_idr", "gross_sales", 1))

    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=dg.AssetSelection.groups("raw"))

    assert result.success
    ((status, error),) = query(tmp_path / "warehouse", "SELECT status, error FROM audit.file_loads WHERE source_file = 'sales/2020-04/pasar_b.csv'")
    assert status == "rejected"
    assert error.startswith("sales/2020-04/pasar_b.csv: required column `gross_sales_idr` missing; found `gross_sales`")
    assert query(tmp_path / "warehouse", "SELECT count(DISTINCT source_file) FROM raw.sales") == [(89,)]


def test_the_whole_fault_corpus_next_to_the_sample_changes_no_indicator(defs, sample_run, published, sources_copy, tmp_path):
    """The corpus lands after the sample was loaded: the good rows of its sales files repeat sample
    rows, so every sales row of it is quarantined or rejected, and the sample's indicators stay
    exactly as they were."""
    _, sample_warehouse = sample_run
    warehouse = tmp_path / "warehouse"
    shutil.copytree(sample_warehouse.warehouse_path, warehouse)
    corpus = land(FIXTURES / "landing", sources_copy)
    expected = yaml.safe_load((FIXTURES / "expected.yml").read_text())

    result = run_pipeline(defs, sources_copy, warehouse, max_quarantined_share=1.0)

    assert result.success
    totals = checks(result)[("raw/population", "national_total_matches_provinces")]
    assert not totals.passed and totals.severity == dg.AssetCheckSeverity.WARN  # explained by the quarantined lines
    history = "SELECT source_file, status, rows_read, rows_loaded, rows_quarantined, error FROM audit.file_loads WHERE run_id = ?"
    loads = {r[0]: r[1:] for r in query(warehouse, history, [result.run_id])}
    for rel in corpus:
        status, read, loaded, quarantined, error = loads[rel]
        assert status == expected[rel]["status"] and read == loaded + quarantined, rel
        if status == "rejected":
            assert expected[rel]["error"] in error
            continue
        lines = dict(query(warehouse, f"SELECT line, rule FROM quarantine.{rel.split('/')[0]} WHERE source_file = ?", [rel]))
        assert {line: lines.get(line) for line in expected[rel]["quarantined"]} == expected[rel]["quarantined"], rel
        if rel.startswith("sales/"):
            assert loaded == 0 and set(lines.values()) - set(expected[rel]["quarantined"].values()) <= {"unique_key"}, rel
    assert {status for rel, (status, *_) in loads.items() if rel not in corpus} == {"unchanged"}

    new = duckdb.connect(str(warehouse / "indicators.duckdb"), read_only=True)
    try:
        # The population table for 2018 is the one fixture whose good lines load: a new year of
        # UMKM_POPULATION, and nothing else, is added.
        indicators = "SELECT * FROM marts.indicators WHERE time_period <> '2018' ORDER BY ALL"
        assert new.execute(indicators).fetchall() == published.execute(indicators).fetchall()
        added = new.execute("SELECT DISTINCT indicator_code, time_period FROM marts.indicators WHERE time_period = '2018'").fetchall()
        assert added == [("UMKM_POPULATION", "2018")]
    finally:
        new.close()

    # Running everything again changes nothing: every file is unchanged, every mart the same.
    marts = [t for (t,) in query(warehouse, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1")]
    before = {t: query(warehouse, f"SELECT * FROM marts.{t} ORDER BY ALL") for t in marts}
    again = run_pipeline(defs, sources_copy, warehouse, max_quarantined_share=1.0)
    assert again.success
    statuses = dict(query(warehouse, "SELECT source_file, status FROM audit.file_loads WHERE run_id = ?", [again.run_id]))
    rejected = {rel for rel in corpus if expected[rel]["status"] == "rejected"}
    assert {rel for rel, status in statuses.items() if status != "unchanged"} == rejected  # still broken, still rejected
    assert {t: query(warehouse, f"SELECT * FROM marts.{t} ORDER BY ALL") for t in marts} == before
