"""Every number says where it came from: the catalog's origin and source, and where they are shown."""

import html
import re
import shutil

import duckdb
import pytest
import yaml

from orchestration.cli.report import headline_report
from orchestration.contracts.rendering import indicator_catalog
from orchestration.samplegen import GENERATED_FOLDERS
from orchestration.serving import charts
from orchestration.serving.provenance import catalog_provenance
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.tools import dashboard
from tests.conftest import SAMPLE_SOURCES

SYNTHETIC_SOURCE = "Synthetic sample (orchestration/samplegen.py), calibrated to a news report on UMKM going digital of 5 October 2020"


@pytest.mark.unit
@pytest.mark.parametrize("row", indicator_catalog(), ids=lambda row: row["indicator_code"])
def test_an_indicator_is_synthetic_exactly_when_the_sample_generator_writes_its_feeds(row):
    feeds = {feed.strip() for feed in row["source_feeds"].split(",")}
    if feeds <= set(GENERATED_FOLDERS):
        assert (row["origin"], row["source"]) == ("synthetic", SYNTHETIC_SOURCE)
    else:
        assert row["origin"] == "published"
        assert row["source"] and not row["source"].startswith("Synthetic sample")


@pytest.mark.unit
def test_the_sample_indicators_are_all_synthetic():
    synthetic = {row["indicator_code"] for row in indicator_catalog() if row["origin"] == "synthetic"}
    assert {"ONLINE_SALES", "ONBOARDING_RATE", "UMKM_POPULATION", "UMKM_GDP_SHARE", "TRAINING_REGISTRATIONS"} <= synthetic


# Rows as the published tables' feeds give them (figures from the tables themselves: BPS's 2022
# internet access, Bank Indonesia's real sales index and its y-o-y growth for 2020-04), in a
# database of the published marts' shape; sources with characters that markup and mathtext read.
BPS_SOURCE = "BPS, Persentase Rumah Tangga yang Pernah Mengakses Internet <b>2022</b>"
BI_SOURCE = "Bank Indonesia, Survei Penjualan Eceran, Tabel 1 & 2 ($\\nosuchcommand{a}$), release of mid-2021"
PUBLISHED_ROWS = [
    # indicator, area, breakdown, period, value, unit, status
    ("HH_INTERNET_ACCESS", "ID", "_T", "2022", 86.54, "PCT", "A"),
    ("HH_INTERNET_ACCESS", "ID", "URBAN", "2022", 90.9, "PCT", "A"),
    ("HH_INTERNET_ACCESS", "11", "_T", "2022", 79.85, "PCT", "A"),
    ("HH_INTERNET_ACCESS", "31", "_T", "2022", 95.39, "PCT", "A"),
    ("HH_INTERNET_ACCESS", "94", "_T", "2022", 35.14, "PCT", "B"),
    ("HH_INTERNET_ACCESS", "95", "_T", "2022", None, "PCT", "L"),
    ("RETAIL_SALES_INDEX", "ID", "_T", "2020-04", 190.66, "INDEX", "A"),
    ("RETAIL_SALES_INDEX", "ID", "_T", "2020-05", 184.9, "INDEX", "A"),
    ("RETAIL_SALES_INDEX", "ID", "_T", "2021-06", 220.3, "INDEX", "P"),
    ("RETAIL_SALES_GROWTH_YOY", "ID", "_T", "2020-04", -16.87, "PCT", "A"),
    ("RETAIL_SALES_GROWTH_YOY", "ID", "_T", "2020-05", -20.6, "PCT", "A"),
    ("RETAIL_SALES_GROWTH_YOY", "ID", "_T", "2021-06", 2.1, "PCT", "P"),
    ("RETAIL_SALES_GROWTH_YOY", "ID", "_T", "2021-07", None, "PCT", "L"),  # the index's month after: not a month of the chart
    ("RETAIL_SALES_INDEX", "3171", "_T", "2020-04", 150.0, "INDEX", "A"),  # a city: not national
]
PUBLISHED_CATALOG = [
    ("HH_INTERNET_ACCESS", "published", BPS_SOURCE),
    ("RETAIL_SALES_INDEX", "published", BI_SOURCE),
    ("RETAIL_SALES_GROWTH_YOY", "published", BI_SOURCE),
    ("RETAIL_SALES_GROWTH_MOM", "published", BI_SOURCE),  # replaced by no rows: the headline lists indicators with rows
]


def add_published_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The published tables' catalog rows and observations, replacing any of the same codes."""
    codes = [code for code, *_ in PUBLISHED_CATALOG]
    con.execute("DELETE FROM marts.indicator_catalog WHERE indicator_code IN ?", [codes])
    con.execute("DELETE FROM marts.indicators WHERE indicator_code IN ?", [codes])
    con.executemany("INSERT INTO marts.indicator_catalog (indicator_code, origin, source) VALUES (?, ?, ?)", PUBLISHED_CATALOG)
    con.executemany(
        """
        INSERT INTO marts.indicators (indicator_code, ref_area, size_class, breakdown, time_period, period_start, obs_value, unit_measure, obs_status)
        VALUES (?, ?, '_T', ?, ?, CAST(? || CASE WHEN length(?) = 4 THEN '-01-01' ELSE '-01' END AS DATE), ?, ?, ?)
        """,
        [(code, area, breakdown, period, period, period, value, unit, status) for code, area, breakdown, period, value, unit, status in PUBLISHED_ROWS],
    )


@pytest.fixture
def marts(tmp_path) -> duckdb.DuckDBPyConnection:
    """The published marts the charts of the published tables read, with those tables' rows only."""
    con = duckdb.connect(str(tmp_path / "indicators.duckdb"))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.indicator_catalog (indicator_code VARCHAR, origin VARCHAR, source VARCHAR)")
    con.execute(
        "CREATE TABLE marts.indicators (indicator_code VARCHAR, ref_area VARCHAR, size_class VARCHAR, breakdown VARCHAR, "
        "time_period VARCHAR, period_start DATE, obs_value DOUBLE, unit_measure VARCHAR, obs_status VARCHAR)"
    )
    con.execute("CREATE TABLE marts.code_labels AS SELECT * FROM read_csv(?, all_varchar = true)", [str(DBT_PROJECT_DIR / "seeds" / "code_labels_seed.csv")])
    con.execute("CREATE TABLE marts.provinces AS SELECT * FROM read_csv(?, all_varchar = true)", [str(SAMPLE_SOURCES / "reference" / "provinces.csv")])
    # The dashboard's dataset, as far as a map's title reads it (its period and the ends of its scale).
    con.execute(
        "CREATE VIEW marts.indicators_labelled AS SELECT i.*, p.iso_3166_2 AS ref_area_iso_code, "
        "i.period_start = max(i.period_start) OVER (PARTITION BY i.indicator_code) AS is_latest_period "
        "FROM marts.indicators i LEFT JOIN marts.provinces p ON p.bps_code = i.ref_area"
    )
    yield con
    con.close()


PUBLISHED_CAPTION = "Origin: Published table, as released by its publisher. Source: "


@pytest.mark.unit
def test_without_the_published_tables_their_charts_are_not_drawn(marts):
    catalog = catalog_provenance(marts)
    assert charts.retail_sales_chart(marts, catalog) is None and charts.internet_access_chart(marts, catalog) is None


@pytest.mark.unit
def test_the_retail_sales_chart_shows_the_national_index_and_its_growth_captioned_with_its_source(marts):
    add_published_tables(marts)
    assert marts.execute(charts.RETAIL_SALES_SQL).fetchall() == [
        ("2020-04", 190.66, "A", -16.87),
        ("2020-05", 184.9, "A", -20.6),
        ("2021-06", 220.3, "P", 2.1),
    ]
    chart = charts.retail_sales_chart(marts, catalog_provenance(marts))  # mathtext in the source would raise here
    assert chart.png.startswith(b"\x89PNG") and chart.mart == "indicators"
    assert chart.caption == PUBLISHED_CAPTION + BI_SOURCE


@pytest.mark.unit
def test_the_internet_access_chart_shows_each_province_of_the_latest_year_and_the_national_figure(marts):
    add_published_tables(marts)
    assert marts.execute(charts.INTERNET_ACCESS_SQL).fetchall() == [
        ("ID", "ID", 86.54, "A", "2022"),  # BPS's own national figure, drawn as a line
        ("95", "Papua Selatan", None, "L", "2022"),
        ("94", "Papua", 35.14, "B", "2022"),
        ("11", "Aceh", 79.85, "A", "2022"),
        ("31", "DKI Jakarta", 95.39, "A", "2022"),
    ]
    chart = charts.internet_access_chart(marts, catalog_provenance(marts))
    assert chart.png.startswith(b"\x89PNG") and chart.title == "Household internet access by province, 2022"
    assert chart.caption == PUBLISHED_CAPTION + BPS_SOURCE


@pytest.mark.unit
def test_the_report_captions_every_chart_with_its_origin_and_source_as_text(marts, tmp_path):
    add_published_tables(marts)
    catalog = catalog_provenance(marts)
    drawn = [charts.retail_sales_chart(marts, catalog), charts.internet_access_chart(marts, catalog)]
    page = charts.write_report(drawn, tmp_path / "reports", "subtitle", []).read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert captions == [
        "Retail sales index and its year-on-year growth (mart <code>marts.indicators</code>). " + PUBLISHED_CAPTION + html.escape(BI_SOURCE),
        "Household internet access by province, 2022 (mart <code>marts.indicators</code>). "
        + PUBLISHED_CAPTION
        + "BPS, Persentase Rumah Tangga yang Pernah Mengakses Internet &lt;b&gt;2022&lt;/b&gt;",
    ]
    assert "<b>2022</b>" not in page
    assert drawn[1].markdown().endswith(r"Internet \<b\>2022\<\/b\>")
    assert r"Tabel 1 \& 2 \(\$\\nosuchcommand\{a\}\$\)" in drawn[0].markdown()


@pytest.mark.integration
@pytest.mark.quick
def test_the_headline_names_the_origin_of_its_figures_and_the_latest_of_each_published_table(sample_run, tmp_path):
    result, warehouse = sample_run
    assert result.success, "the sample run failed"
    copy = tmp_path / "indicators.duckdb"
    shutil.copy(warehouse.published_db, copy)
    with duckdb.connect(str(copy)) as con:
        add_published_tables(con)
    lines = headline_report(copy).splitlines()
    assert lines[1] == f"Origin: Synthetic sample, not official statistics. Source: {SYNTHETIC_SOURCE}"
    start = lines.index("Published tables, Indonesia, latest figure")
    assert lines[start + 1 : start + 7] == [
        "indicator                    period        value unit   status",
        "HH_INTERNET_ACCESS           2022          86.54 PCT    A",
        "RETAIL_SALES_GROWTH_YOY      2021-06        2.10 PCT    P",  # the month after, not published: no number
        "RETAIL_SALES_INDEX           2021-06      220.30 INDEX  P",
        f"HH_INTERNET_ACCESS: {PUBLISHED_CAPTION}{BPS_SOURCE}",
        f"RETAIL_SALES_GROWTH_YOY, RETAIL_SALES_INDEX: {PUBLISHED_CAPTION}{BI_SOURCE}",
    ]


@pytest.mark.unit
def test_the_dashboard_shows_the_charts_whose_indicators_have_rows_each_captioned_as_text(marts, tmp_path):
    add_published_tables(marts)
    marts.close()  # the bundle reads the file as Superset's import would, read-only
    contents = dashboard.bundle(tmp_path / "indicators.duckdb")
    assert sorted(rel for rel in contents if rel.startswith("charts/")) == [
        "charts/internet_access_by_province.yaml",
        "charts/retail_sales_growth_yoy.yaml",
        "charts/retail_sales_index.yaml",
    ]
    position = yaml.safe_load(contents["dashboards/umkm_digital_economy.yaml"])["position"]
    # Only the published tables' rows: no synthetic figure, no note saying so.
    assert position["GRID_ID"]["children"] == ["ROW-4", "ROW-4-CAPTIONS", "ROW-5", "ROW-5-CAPTIONS"]
    assert {c for c, v in position.items() if isinstance(v, dict) and v.get("type") == "CHART"} == {"CHART-6", "CHART-7", "CHART-8"}
    assert position["ROW-4-CAPTIONS"]["children"] == ["MARKDOWN-CHART-6", "MARKDOWN-CHART-7"]
    caption = position["MARKDOWN-CHART-6"]
    assert caption["meta"]["width"] == position["CHART-6"]["meta"]["width"] == 6
    assert caption["meta"]["code"] == (
        r"Origin\: Published table\, as released by its publisher\. Source\: Bank Indonesia\, Survei Penjualan Eceran\, "
        r"Tabel 1 \& 2 \(\$\\nosuchcommand\{a\}\$\)\, release of mid\-2021"
    )
    assert position["MARKDOWN-CHART-8"]["meta"]["code"].endswith(r"Internet \<b\>2022\<\/b\>")


@pytest.mark.unit
def test_without_a_published_table_its_charts_leave_the_dashboard(marts, tmp_path):
    marts.close()
    contents = dashboard.bundle(tmp_path / "indicators.duckdb")
    assert not [rel for rel in contents if rel.startswith("charts/")]
    assert yaml.safe_load(contents["dashboards/umkm_digital_economy.yaml"])["position"]["GRID_ID"]["children"] == []


@pytest.mark.integration
@pytest.mark.quick
def test_the_sample_report_says_first_and_under_every_chart_that_its_figures_are_synthetic(sample_run, published):
    _, warehouse = sample_run
    page = (warehouse.reports_dir / "index.html").read_text(encoding="utf-8")
    synthetic, total = published.execute(
        "SELECT count(DISTINCT indicator_code) FILTER (origin = 'synthetic'), count(DISTINCT indicator_code) FROM marts.indicators_labelled"
    ).fetchone()
    assert synthetic >= 13
    assert re.search(rf'<p class="note"><strong>{synthetic} of the {total} indicators published here are a synthetic sample: ', page)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert [c.split("). ", 1)[1] for c in captions[:4]] == [f"Origin: Synthetic sample, not official statistics. Source: {SYNTHETIC_SOURCE}"] * 4


@pytest.mark.unit
def test_a_chart_that_cannot_be_drawn_is_left_out_and_said_never_blocking_the_data(marts, monkeypatch, caplog):
    add_published_tables(marts)

    def unparsable(con, catalog):
        raise ValueError(r"$\frac{Rp}$: missing argument")  # what matplotlib said of a name read as maths

    monkeypatch.setattr(charts, "retail_sales_chart", unparsable)
    with caplog.at_level("WARNING", logger="orchestration.serving.charts"):
        drawn = charts.headline_charts(marts)

    assert [chart.name for chart in drawn if chart.name.startswith(("retail", "internet"))] == ["internet_access_by_province"]
    assert r"chart unparsable not drawn: $\frac{Rp}$: missing argument" in caplog.text
