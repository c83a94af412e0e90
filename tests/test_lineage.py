"""Lineage by meaning: a mart's upstream is the feeds its numbers come from, and a column's
lineage leads from an indicator back to the raw columns it is computed from."""

import dagster as dg
import pytest

from orchestration.text import markdown_text

SAMPLE_FEEDS = {"claims", "gdp", "onboarding", "platforms", "population", "provinces", "sales", "training_programs", "training_registrations"}
# The published tables: BPS's internet access, BI's retail sales index and BI's own growth, each with
# the national line it publishes (a raw asset of its own), and the survey's code lists.
INTERNET_ACCESS = {"raw/hh_internet_access", "raw/hh_internet_access_reported_totals"}
RETAIL_INDEX = {"raw/retail_sales_index", "raw/retail_sales_index_reported_totals", "raw/retail_sales_index_city",
                "raw/retail_sales_index_city_reported_totals", "raw/bi_cities", "raw/bi_retail_categories"}  # fmt: skip
RETAIL_GROWTH_PUBLISHED = {"raw/retail_sales_growth", "raw/retail_sales_growth_reported_totals", "raw/retail_sales_growth_city",
                           "raw/retail_sales_growth_city_reported_totals"}  # fmt: skip
INDICATOR_INPUTS = {f"raw/{f}" for f in SAMPLE_FEEDS - {"claims"}} | INTERNET_ACCESS | RETAIL_INDEX | {"audit/sales_files", "audit/onboarding_files"}

# The raw feeds (raw/<feed>) and the feeds' parts of the load audit upstream of each mart.
UPSTREAM = {
    "onboarding_rate": {"raw/onboarding", "raw/population", "raw/provinces", "audit/onboarding_files"},
    "sales_growth": {"raw/sales", "raw/platforms", "raw/provinces", "audit/sales_files"},
    "online_sales_monthly": {"raw/sales", "raw/provinces"},
    "training_uptake": {"raw/training_programs", "raw/training_registrations", "raw/provinces"},
    "feed_completeness": {"raw/sales", "raw/onboarding", "raw/platforms", "raw/provinces", "audit/sales_files", "audit/onboarding_files"},
    "platforms": {"raw/platforms"},
    "provinces": {"raw/provinces"},
    "code_labels": {"raw/provinces", "raw/bi_cities", "raw/bi_retail_categories"},
    "indicator_catalog": set(),
    "household_internet_access": INTERNET_ACCESS | {"raw/provinces"},
    "retail_sales": RETAIL_INDEX | {"raw/provinces"},
    # The warehouse's growth against BI's own: the index and the published growth, nothing else.
    "source_reconciliation": RETAIL_INDEX | RETAIL_GROWTH_PUBLISHED | {"raw/provinces"},
    "indicators": INDICATOR_INPUTS,
    "indicators_labelled": INDICATOR_INPUTS,
    # The releases list every landed file (the whole audit) and check the claims.
    "claims_check": {f"raw/{f}" for f in SAMPLE_FEEDS}
    | INTERNET_ACCESS
    | RETAIL_INDEX
    | {"raw/retail_sales_growth", "raw/retail_sales_growth_city", "audit/loaded_files", "audit/sales_files", "audit/onboarding_files"},
}


def upstream(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, stack = set(), [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


@pytest.mark.unit
def test_each_mart_depends_on_exactly_the_feeds_its_numbers_come_from(defs):
    graph = defs.resolve_asset_graph()
    found = {mart: {k.to_user_string() for k in upstream(graph, dg.AssetKey(["marts", mart])) if k.path[0] in ("raw", "audit")} for mart in UPSTREAM}
    assert found == UPSTREAM
    # Every mart is named above: a new one states its feeds here.
    marts = {k.path[1] for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert marts - {"indicator_vintages", "indicator_revisions"} == set(UPSTREAM)


@pytest.mark.integration
@pytest.mark.quick
def test_column_lineage_leads_from_the_onboarding_rate_to_raw_columns(sample_run):
    result, _ = sample_run
    lineage = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if "dagster/column_lineage" in materialization.metadata:
            lineage[materialization.asset_key] = materialization.metadata["dagster/column_lineage"].value.deps_by_column
    rate = dg.AssetKey(["marts", "onboarding_rate"])
    assert {(d.asset_key.to_user_string(), d.column_name) for d in lineage[rate]["onboarding_rate_pct"]} == {
        ("intermediate/int_onboarding__cumulative_by_level", "cumulative_onboarded"),
        ("intermediate/int_population__by_level", "enterprises"),
    }
    # Followed model by model to the columns of assets without lineage of their own (raw, audit).
    leaves, stack, seen = set(), [(rate, "onboarding_rate_pct")], set()
    while stack:
        key, column = stack.pop()
        if (key, column) in seen:
            continue
        seen.add((key, column))
        if key not in lineage:
            leaves.add((key.to_user_string(), column))
            continue
        stack += [(d.asset_key, d.column_name) for d in lineage[key][column]]
    assert ("raw/onboarding", "newly_onboarded") in leaves
    assert ("raw/population", "enterprises") in leaves
    assert {key for key, _ in leaves} == {"raw/onboarding", "raw/population", "audit/onboarding_files"}, leaves
    # The mart shows the same path's ends, column by column, where the UI shows metadata.
    (shown,) = [
        e.event_specific_data.materialization.metadata["column_sources"].value
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key == rate
    ]
    (row,) = [line for line in shown.splitlines() if line.startswith(f"| {markdown_text('onboarding_rate_pct')} |")]
    assert sorted(row.split(" | ")[1].rstrip(" |").split(", ")) == sorted(markdown_text(f"{key}.{column}") for key, column in leaves), row


@pytest.mark.unit
def test_no_asset_shows_an_unserializable_project_in_its_metadata(defs):
    # The UI shows a DbtProject object as "(unserializable)"; the dbt project is the resource's.
    keys = {name for asset in defs.assets for spec in getattr(asset, "specs", []) for name in spec.metadata}
    assert "dagster_dbt/project" not in keys and "dagster_dbt/unique_id" in keys
