"""Corrupted feeds make the right check or step fail with a useful message, and nothing downstream runs."""

import dagster as dg

from tests.conftest import run_pipeline

# Raw and staging layers: enough to see a blocking raw check stop dbt, without building marts.
RAW_AND_STAGING = dg.AssetSelection.groups("raw", "staging")


def failed_checks(result):
    return {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations() if not c.passed}


def materialized(result):
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_negative_sales_fail_the_raw_contract_check_and_block_dbt(defs, sources_copy, tmp_path):
    path = sources_copy / "sales" / "2020-04" / "pasar_b.csv"
    lines = path.read_text().splitlines()
    fields = lines[5].split(",")
    fields[-1] = "-125000.00"
    lines[5] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")

    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=RAW_AND_STAGING)

    assert not result.success
    check = failed_checks(result)[("raw/sales", "contract")]
    assert "column `gross_sales_idr` failed greater_than_or_equal_to(0) on 1 row(s)" in check.description
    cases = check.metadata["failure_cases"].value
    assert cases == [{"column": "gross_sales_idr", "check": "greater_than_or_equal_to(0)", "count": 1, "sample": [{"gross_sales_idr": "-125000.00"}]}]
    assert "raw/sales" in materialized(result)
    assert not any(key.startswith("staging/") for key in materialized(result))
    assert not (tmp_path / "warehouse" / "indicators.duckdb").exists()


def test_population_total_mismatch_names_year_and_both_figures(defs, sources_copy, tmp_path):
    path = sources_copy / "population" / "umkm_population_2020.csv"
    path.write_text(path.read_text().replace("INDONESIA;64.000.000;", "INDONESIA;64.000.100;"))

    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=dg.AssetSelection.groups("raw"))

    check = failed_checks(result)[("raw/population", "national_total_matches_provinces")]
    assert "year 2020 ULTRA_MIKRO: national total 64,000,100 but the provinces sum to 64,000,000" in check.description
    assert "population/umkm_population_2020.csv: line 39" in check.description


def test_a_renamed_column_fails_the_load_naming_file_and_column(defs, sources_copy, tmp_path):
    path = sources_copy / "sales" / "2020-04" / "pasar_b.csv"
    path.write_text(path.read_text().replace("gross_sales_idr", "gross_sales", 1))

    result = run_pipeline(defs, sources_copy, tmp_path / "warehouse", selection=dg.AssetSelection.groups("raw"))

    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["raw__sales"]
    message = failures[0].step_failure_data.user_failure_data.description
    assert message.startswith("sales/2020-04/pasar_b.csv: required column `gross_sales_idr` missing; found `gross_sales`")
