"""Integration: every real asset and check, materialized on the sample feeds into a temporary warehouse."""

import duckdb
import pytest

from orchestration.contracts import load_contracts
from orchestration.serving.publish import PUBLISHED_STORAGE_VERSION

pytestmark = [pytest.mark.integration, pytest.mark.quick]

NATIONAL_ONLINE_SALES = "SELECT time_period, obs_value FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES' AND ref_area = 'ID' AND size_class = '_T' AND breakdown = '_T'"


def indicator(con, code, ref_area="ID", size_class="_T", breakdown="_T", period=None):
    rows = con.execute(
        "SELECT obs_value, obs_status, unit_measure FROM marts.indicators WHERE indicator_code = ? AND ref_area = ? AND size_class = ? AND breakdown = ? AND time_period = ?",
        [code, ref_area, size_class, breakdown, period],
    ).fetchall()
    assert len(rows) == 1, f"{code} {ref_area}/{size_class}/{breakdown}/{period}: {rows}"
    return rows[0]


def test_every_step_and_check_succeeds(sample_run):
    result, _ = sample_run
    assert result.success
    failed = [(c.asset_key.to_user_string(), c.check_name, c.severity) for c in result.get_asset_check_evaluations() if not c.passed]
    # The sample declares its reporting period (2019-01..2020-12): freshness is judged at its end.
    assert failed == []
    (freshness,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "sales_freshness"]
    assert freshness.description == (
        "the newest sales month is 2020-12, which ended 0 days ago (allowed: 45), "
        "judged at the end of the reporting period 2019-01..2020-12 declared in sources/reporting_period.yml"
    )
    checked = {(c.asset_key.to_user_string(), c.check_name) for c in result.get_asset_check_evaluations()}
    for feed in load_contracts().feeds:
        assert (f"raw/{feed}", "contract") in checked
    assert ("raw/population", "national_total_matches_provinces") in checked
    assert ("raw/gdp", "national_total_matches_provinces") in checked
    assert ("marts/claims_check", "claims_hold") in checked and ("marts/indicator_vintages", "pandera_schema") in checked
    assert ("marts/indicators", "pandera_schema") in checked
    # The pandemic's +114 % and +142 % are shared by the provinces: no month of the sample is implausible.
    assert ("marts/sales_growth", "sales_change_plausible") in checked
    assert ("staging/stg_sales__daily_sales", "pandera_schema") in checked
    # dbt tests are asset checks too.
    assert any(name.startswith("unique_combination_indicators") for _, name in checked)


def test_headline_indicators_match_the_calibration(published):
    assert indicator(published, "ONLINE_SALES_GROWTH_VS_BASE", period="2020-04") == (480.0, "A", "PCT")
    value, status, unit = indicator(published, "ONBOARDING_RATE", size_class="ULTRA_MIKRO", period="2020-10")
    assert (round(value, 2), status, unit) == (14.69, "A", "PCT")
    assert indicator(published, "ONBOARDED_CUMULATIVE", size_class="ULTRA_MIKRO", period="2020-10")[0] == 9_400_000
    assert indicator(published, "UMKM_POPULATION", size_class="ULTRA_MIKRO", period="2020")[0] == 64_000_000
    assert indicator(published, "TRAINING_OVERSUBSCRIPTION", breakdown="umkm_go_digital", period="2020") == (260.0, "A", "PCT")
    assert indicator(published, "TRAINING_REGISTRATIONS", breakdown="umkm_go_digital", period="2020")[0] == 6500
    assert indicator(published, "TRAINING_CAPACITY", breakdown="umkm_go_digital", period="2020")[0] == 2500
    # The ministry's national-accounts table, read by the same reader as the population tables.
    assert indicator(published, "UMKM_GDP_SHARE", period="2019") == (60.51, "A", "PCT")


def test_national_sales_equal_the_landed_files(published, sample_run):
    """Recompute monthly sales straight from the landed files, independently of the pipeline."""
    _, warehouse = sample_run
    src = warehouse.sources_path
    con = duckdb.connect()
    expected = dict(
        con.execute(
            f"""
            SELECT strftime(sale_date, '%Y-%m'), sum(gross_sales_idr)::DOUBLE FROM (
                SELECT sale_date, gross_sales_idr FROM read_csv(['{src}/sales/*/*.csv', '{src}/sales/*/*.csv.gz'],
                    columns = {{'sale_date': 'DATE', 'platform': 'VARCHAR', 'merchant_id': 'VARCHAR', 'province_code': 'VARCHAR',
                                'size_class': 'VARCHAR', 'orders': 'BIGINT', 'gross_sales_idr': 'DECIMAL(18,2)'}}, header = true)
                UNION ALL SELECT sale_date, gross_sales_idr FROM read_parquet('{src}/sales/*/*.parquet'))
            GROUP BY 1
            """
        ).fetchall()
    )
    got = dict(published.execute(NATIONAL_ONLINE_SALES).fetchall())
    assert len(got) == 24
    assert got == pytest.approx(expected)


def test_levels_add_up(published):
    """Provinces and size classes each sum to the national figure; platforms sum to the total."""
    mismatches = published.execute(
        """
        WITH s AS (SELECT * FROM marts.indicators WHERE indicator_code = 'ONLINE_SALES')
        SELECT n.time_period, n.obs_value,
               (SELECT sum(obs_value) FROM s p WHERE p.time_period = n.time_period AND p.ref_area <> 'ID'),
               (SELECT sum(obs_value) FROM s c WHERE c.time_period = n.time_period AND c.ref_area = 'ID' AND c.size_class <> '_T'),
               (SELECT sum(obs_value) FROM s b WHERE b.time_period = n.time_period AND b.breakdown <> '_T')
        FROM s n WHERE n.ref_area = 'ID' AND n.size_class = '_T' AND n.breakdown = '_T'
        """
    ).fetchall()
    for period, national, provinces, classes, platforms in mismatches:
        assert provinces == pytest.approx(national) and classes == pytest.approx(national) and platforms == pytest.approx(national), period


def test_growth_periods_and_missing_bases(published):
    # 2019-01 is the first month: no previous month, no previous year.
    assert indicator(published, "ONLINE_SALES_GROWTH_MOM", period="2019-01") == (None, "L", "PCT")
    assert indicator(published, "ONLINE_SALES_GROWTH_YOY", period="2019-12") == (None, "L", "PCT")
    sales = dict(published.execute(NATIONAL_ONLINE_SALES).fetchall())
    assert indicator(published, "ONLINE_SALES_GROWTH_MOM", period="2020-04")[0] == pytest.approx(round((sales["2020-04"] / sales["2020-03"] - 1) * 100, 4))
    assert indicator(published, "ONLINE_SALES_GROWTH_YOY", period="2020-04")[0] == pytest.approx(round((sales["2020-04"] / sales["2019-04"] - 1) * 100, 4))
    # No division errors or infinities anywhere; NULL exactly when the status says missing.
    assert published.execute(
        "SELECT count(*) FROM marts.indicators WHERE isinf(obs_value) OR isnan(obs_value) OR ((obs_value IS NULL) <> (obs_status IN ('L', 'M')))"
    ).fetchall() == [(0,)]


def series(con, code):
    """{(ref_area, size_class, time_period): (obs_value, obs_status)} of an indicator's totals (breakdown _T)."""
    rows = con.execute(
        "SELECT ref_area, size_class, time_period, obs_value, obs_status FROM marts.indicators WHERE indicator_code = ? AND breakdown = '_T'",
        [code],
    ).fetchall()
    return {row[:3]: row[3:] for row in rows}


def test_year_to_date_growth_is_cumulative_against_cumulative(published):
    """BPS c-to-c, recomputed from the published ONLINE_SALES: sales from January to the month
    against the same months of the previous year; missing (L) when a month of either is absent."""
    sales = {key: value for key, (value, _) in series(published, "ONLINE_SALES").items()}
    ytd = series(published, "ONLINE_SALES_GROWTH_YTD")
    assert ytd.keys() == sales.keys()

    def cumulative(area, size_class, year, month):
        months = [sales.get((area, size_class, f"{year}-{m:02d}")) for m in range(1, month + 1)]
        return None if None in months else sum(months)

    for (area, size_class, period), got in ytd.items():
        year, month = int(period[:4]), int(period[5:])
        current, earlier = cumulative(area, size_class, year, month), cumulative(area, size_class, year - 1, month)
        if current is None or earlier is None:
            expected = (None, "L")
        elif earlier == 0:
            expected = (None, "M")
        else:
            expected = (pytest.approx(round((current / earlier - 1) * 100, 4), abs=2e-4), "A")
        assert got == expected, (area, size_class, period)
    # The sample begins in 2019-01: every 2019 month lacks its earlier year; 2020 is complete.
    national = {period: value for (area, size_class, period), (value, _) in ytd.items() if (area, size_class) == ("ID", "_T")}
    assert all(national[f"2019-{m:02d}"] is None for m in range(1, 13))
    assert round(national["2020-04"], 1) == 217.6
    # January's cumulative is the month itself; December's is the year, not the month.
    assert national["2020-01"] == indicator(published, "ONLINE_SALES_GROWTH_YOY", period="2020-01")[0]
    assert national["2020-12"] != indicator(published, "ONLINE_SALES_GROWTH_YOY", period="2020-12")[0]


def test_periods_are_dates_with_a_frequency(published):
    rows = published.execute(
        """
        SELECT i.frequency, c.frequency, i.time_period, strftime(i.period_start, '%Y-%m-%d'), typeof(i.period_start)
        FROM marts.indicators i JOIN marts.indicator_catalog c USING (indicator_code)
        """
    ).fetchall()
    assert {r[0] for r in rows} == {"M", "A"}
    for frequency, catalog_frequency, period, start, start_type in rows:
        assert frequency == catalog_frequency and start_type == "DATE"
        assert start == (f"{period}-01" if frequency == "M" else f"{period}-01-01"), (period, start)


def test_the_labelled_view_names_every_code_of_every_row(published):
    columns = "indicator_code, ref_area, size_class, breakdown, time_period, period_start, frequency, obs_value, unit_measure, obs_status"
    assert (
        published.execute(f"SELECT {columns} FROM marts.indicators_labelled ORDER BY ALL").fetchall()
        == published.execute(f"SELECT {columns} FROM marts.indicators ORDER BY ALL").fetchall()
    )
    labels = ["indicator_name", "ref_area_name", "size_class_name", "breakdown_name", "frequency_name", "unit_name", "obs_status_name"]
    nulls = published.execute(f"SELECT {', '.join(f'count(*) FILTER ({c} IS NULL)' for c in labels)} FROM marts.indicators_labelled").fetchall()[0]
    assert dict(zip(labels, nulls, strict=True)) == dict.fromkeys(labels, 0)

    def names(code_column, label_column):
        return dict(published.execute(f"SELECT DISTINCT {code_column}, {label_column} FROM marts.indicators_labelled").fetchall())

    assert names("size_class", "size_class_name") == {
        "ULTRA_MIKRO": "Ultra-micro",
        "MIKRO": "Micro",
        "KECIL": "Small",
        "MENENGAH": "Medium",
        "_T": "All UMKM",
    }
    areas = names("ref_area", "ref_area_name")
    provinces = dict(published.execute("SELECT bps_code, province_name FROM marts.provinces").fetchall())
    assert areas.pop("ID") == "Indonesia"
    # Provinces by their name; Bank Indonesia's survey cities (but Jakarta, the province) by their label.
    cities = dict(published.execute("SELECT code, label FROM marts.code_labels WHERE code_list = 'REF_AREA' AND code <> 'ID'").fetchall())
    assert cities.keys() <= areas.keys() and "31" not in cities
    assert areas and areas == {code: provinces.get(code) or cities[code] for code in areas}
    breakdowns = names("breakdown", "breakdown_name")
    assert breakdowns["_T"] == "Total" and breakdowns["pasar_a"] == "Pasar A"
    programme = published.execute("SELECT program_name FROM marts.training_uptake WHERE program_id = 'umkm_go_digital'").fetchall()[0][0]
    assert breakdowns["umkm_go_digital"] == programme
    assert names("indicator_code", "indicator_name") == dict(published.execute("SELECT indicator_code, indicator_name FROM marts.indicator_catalog").fetchall())
    # Every row says where its value comes from, as the catalog does for its indicator.
    assert names("indicator_code", "[origin, source]") == {
        code: [origin, source]
        for code, origin, source in published.execute(
            "SELECT indicator_code, origin, source FROM marts.indicator_catalog WHERE indicator_code IN (SELECT indicator_code FROM marts.indicators)"
        ).fetchall()
    }
    assert names("indicator_code", "origin")["ONLINE_SALES"] == "synthetic"


def test_onboarding_rate_uses_the_latest_population(published):
    row = published.execute(
        "SELECT population_year, population, cumulative_onboarded, onboarding_rate_pct FROM marts.onboarding_rate "
        "WHERE onboarded_month = DATE '2020-10-01' AND ref_area = 'ID' AND size_class = 'ULTRA_MIKRO'"
    ).fetchall()
    assert row == [(2020, 64_000_000, 9_400_000, 14.6875)]
    assert published.execute("SELECT DISTINCT population_year FROM marts.onboarding_rate WHERE year(onboarded_month) = 2019").fetchall() == [(2019,)]


def test_publication_metadata_and_catalog(published, sample_run):
    _, warehouse = sample_run
    run_id, storage = published.execute("SELECT run_id, storage_version FROM meta.publication").fetchall()[0]
    assert run_id == sample_run[0].run_id and storage == PUBLISHED_STORAGE_VERSION
    files = published.execute("SELECT count(*), count(DISTINCT sha256) FROM meta.source_files").fetchall()[0]
    landed = sum(len(f.landed_files(warehouse.sources_path)) for f in load_contracts().feeds.values())
    assert files[0] == landed
    codes = {c for (c,) in published.execute("SELECT DISTINCT indicator_code FROM marts.indicators").fetchall()}
    catalog = {c for (c,) in published.execute("SELECT indicator_code FROM marts.indicator_catalog").fetchall()}
    assert codes == catalog
    comment = published.execute("SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = 'indicators' AND column_name = 'obs_status'").fetchall()[0][0]
    assert "CL_OBS_STATUS" in comment
    # Only marts and metadata are published; nothing of the working layers.
    schemas = {s for (s,) in published.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()}
    assert schemas == {"marts", "meta"}


def test_raw_rows_carry_their_source_file(sample_run):
    _, warehouse = sample_run
    with warehouse.connect(read_only=True) as con:
        rows = con.execute("SELECT source_file, count(*) FROM raw.sales GROUP BY 1 ORDER BY 1").fetchall()
    assert rows[0][0] == "sales/2019-01/pasar_a.csv"
    assert {r[0].rsplit(".", 1)[-1] for r in rows} == {"csv", "gz", "parquet"}


def test_published_tables_become_indicators(published):
    """BPS's and Bank Indonesia's tables, as landed in sources/, published beside the sample."""
    assert indicator(published, "HH_INTERNET_ACCESS", period="2022") == (86.54, "A", "PCT")
    assert indicator(published, "HH_INTERNET_ACCESS", breakdown="URBAN", period="2022") == (90.9, "A", "PCT")
    assert indicator(published, "HH_INTERNET_ACCESS", breakdown="RURAL", period="2022") == (80.54, "A", "PCT")
    # `-`: not collected (the four provinces created in 2022); DKI Jakarta has no rural households.
    for province in ("92", "95", "96", "97"):
        assert indicator(published, "HH_INTERNET_ACCESS", ref_area=province, period="2022") == (None, "L", "PCT")
    assert indicator(published, "HH_INTERNET_ACCESS", ref_area="31", breakdown="RURAL", period="2022") == (None, "M", "PCT")
    # Papua's and Papua Barat's figures cover their territory before the split: a break in series.
    assert indicator(published, "HH_INTERNET_ACCESS", ref_area="94", period="2022") == (35.14, "B", "PCT")
    assert indicator(published, "HH_INTERNET_ACCESS", ref_area="91", period="2022") == (78.32, "B", "PCT")

    value, status, unit = indicator(published, "RETAIL_SALES_INDEX", period="2020-04")
    assert (round(value, 2), status, unit) == (190.66, "A", "IX")
    assert indicator(published, "RETAIL_SALES_GROWTH_YOY", period="2020-04") == (-16.8658, "A", "PCT")
    assert indicator(published, "RETAIL_SALES_INDEX", period="2021-06")[1] == "P"
    assert indicator(published, "RETAIL_SALES_GROWTH_MOM", period="2021-06")[1] == "P"
    assert indicator(published, "RETAIL_SALES_GROWTH_YOY", period="2012-01") == (None, "L", "PCT")
    assert indicator(published, "RETAIL_SALES_INDEX", ref_area="3374_3302", period="2020-04")[1] == "A"
    assert published.execute("SELECT max(time_period) FROM marts.indicators WHERE indicator_code LIKE 'RETAIL_SALES%'").fetchone() == ("2021-06",)
    # Every month BI publishes growth for, national total: consistent, or (2012's y-o-y) not computable.
    verdicts = dict(
        published.execute(
            "SELECT verdict, count(*) FROM marts.source_reconciliation WHERE ref_area = 'ID' AND breakdown = '_T' AND published_in IN ('Tabel 2', 'Tabel 3') GROUP BY ALL"
        ).fetchall()
    )
    assert verdicts == {"consistent": 114 + 114 - 12 - 1, "not_computable": 13}
    assert published.execute("SELECT count(*) FROM marts.source_reconciliation WHERE verdict = 'inconsistent'").fetchone() == (0,)


def test_every_models_rules_are_checked_in_one_query_each(sample_run):
    """Each model's Pandera rules hold on the sample, asked in one query per table: none is left to
    Pandera's one query per rule (what `validate` falls back to when a rule cannot join the query)."""
    from orchestration.defs.dbt import manifest
    from orchestration.quality.validation import folded, model_schema, row_rules, warehouse_table

    _, warehouse = sample_run
    checked = []
    with warehouse.models_backend() as backend:
        tables = {f"{schema}.{name}" for schema, name in backend.raw_sql("SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
        for node in manifest()["nodes"].values():
            table = f"{node['schema']}.{node['alias'] or node['name']}"
            if node["resource_type"] == "model" and table in tables and (rules := row_rules(model_schema(node, load_contracts(), backend))):
                (row,) = folded(warehouse_table(backend, table), rules).to_pyarrow().to_pylist()
                assert all(row[f"r{i}"] for i in range(len(rules))), table
                checked.append(table)
    assert {"marts.indicators", "marts.indicator_vintages", "staging.stg_sales__daily_sales"} <= set(checked) and len(checked) >= 30
