"""One raw asset per landed feed, loaded by DuckDB and validated against its contract."""


from collections.abc import Iterator

import dagster as dg

from orchestration.contracts import FeedContract, dbt_source_name, load_contracts
from orchestration.defs.checks import contract_check_result
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest import FeedError, load_feed

CONTRACT_CHECK = "contract"
TOTALS_CHECK = "national_total_matches_provinces"
OWNER = "team:data-engineering"


def raw_key(feed: FeedContract) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed.name])


def _column_schema(feed: FeedContract) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in feed.raw_columns])


def _dependencies(feed: FeedContract) -> list[dg.AssetKey]:
    """Feeds whose tables this feed's rules or loader read (references, name lookups)."""
    contracts = load_contracts()
    deps = {raw_key(reference[0]) for c in feed.columns if (reference := contracts.reference(c.rules))}
    if feed.format == "ministry_table":
        deps.add(raw_key(contracts.feeds["provinces"]))
    return sorted(deps - {raw_key(feed)}, key=lambda k: k.to_user_string())


def build_raw_asset(feed: FeedContract) -> dg.AssetsDefinition:
    key = raw_key(feed)
    check_specs = [
        dg.AssetCheckSpec(
            CONTRACT_CHECK,
            asset=key,
            blocking=True,
            description=f"Pandera: every row of {feed.raw_table} meets the {feed.name} contract (types, rules, key).",
        )
    ]
    if feed.format == "ministry_table":
        check_specs.append(
            dg.AssetCheckSpec(
                TOTALS_CHECK,
                asset=key,
                blocking=True,
                description="The table's national total row equals the sum of its provinces, per year and size class.",
            )
        )

    @dg.asset(
        key=key,
        group_name="raw",
        description=f"{feed.title}. {feed.description} Loaded from {', '.join(feed.files)} into {feed.raw_table}.",
        kinds={"duckdb", "pandera", "csv", *(["parquet"] if any(f.endswith(".parquet") for f in feed.files) else [])},
        owners=[OWNER],
        deps=_dependencies(feed),
        check_specs=check_specs,
        metadata={
            "dagster/column_schema": _column_schema(feed),
            "dagster/table_name": f"working.{feed.raw_table}",
            "contract_key": ", ".join(feed.key),
            "dbt_source": dbt_source_name(feed),
        },
        tags={"layer": "raw"},
    )
    def raw_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator:
        with warehouse.connect() as con:
            try:
                result = load_feed(con, feed, warehouse.sources_path)
            except FeedError as error:
                raise dg.Failure(description=str(error), metadata={"feed": feed.name}) from error
            yield dg.MaterializeResult(
                metadata={
                    "dagster/row_count": result.rows,
                    "files": len(result.files),
                    "source_files": dg.MetadataValue.json(result.files[:50]),
                }
            )
            yield contract_check_result(con, key, CONTRACT_CHECK, feed.raw_table, feed=feed)
            if feed.format == "ministry_table":
                yield _population_totals_check(con, key)

    return raw_asset


def _population_totals_check(con, key: dg.AssetKey) -> dg.AssetCheckResult:
    mismatches = con.execute(
        """
        SELECT t.year, t.size_class, t.enterprises AS reported, coalesce(sum(p.enterprises), 0) AS provinces, t.source_file, t.line
        FROM raw.population_reported_totals t
        LEFT JOIN raw.population p USING (year, size_class)
        GROUP BY ALL
        HAVING reported <> provinces
        ORDER BY t.year, t.size_class
        """
    ).fetchall()
    files_without_total = con.execute(
        "SELECT DISTINCT source_file FROM raw.population WHERE source_file NOT IN (SELECT source_file FROM raw.population_reported_totals)"
    ).fetchall()
    problems = [
        f"{file}: line {line}: year {year} {size}: national total {reported:,} but the provinces sum to {provinces:,}"
        for year, size, reported, provinces, file, line in mismatches
    ] + [f"{file}: no national total row" for (file,) in files_without_total]
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=TOTALS_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) if problems else "Every national total equals the sum of its provinces.",
        metadata={"mismatches": len(problems), "problems": dg.MetadataValue.json(problems[:20])},
    )


raw_assets = [build_raw_asset(feed) for feed in load_contracts().feeds.values()]
