"""One raw asset per landed feed, loaded by DuckDB and validated against its contract."""


from collections.abc import Iterator
from typing import Any

import dagster as dg

from orchestration.audit import quarantine_shares
from orchestration.contracts import FeedContract, dbt_source_name, load_contracts
from orchestration.defs.checks import report_check_result
from orchestration.defs.partitions import WAREHOUSE_POOL, is_monthly, month_keys, monthly, single_run
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest import FeedError, FeedLoad, load_feed
from orchestration.validation import ValidationReport, feed_schema, validate

CONTRACT_CHECK = "contract"
TOTALS_CHECK = "national_total_matches_provinces"
OWNER = "team:data-engineering"


LOAD_AUDIT = dg.AssetKey(["audit", "loaded_files"])


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
            description=(
                f"Pandera: the rows loaded into {feed.raw_table} meet the {feed.name} contract (types, rules, key), and "
                "no loaded file has more of its rows quarantined than the limit (WarehouseResource.max_quarantined_share)."
            ),
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
        partitions_def=monthly if is_monthly(feed) else None,
        backfill_policy=single_run if is_monthly(feed) else None,
        pool=WAREHOUSE_POOL,
    )
    def raw_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator:
        contracts = load_contracts()
        # A monthly feed loads the files of the run's months only; the others all their files.
        months = set(month_keys(context.partition_time_window)) if is_monthly(feed) else None

        def validate_loaded(con, files: list[str]) -> ValidationReport:
            return validate(con, feed.raw_table, feed_schema(contracts, feed, con), where=lambda t: t.source_file.isin(files))

        with warehouse.connect() as con:
            try:
                load = load_feed(con, feed, warehouse.sources_path, context.run.run_id, months=months, validate=validate_loaded)
            except FeedError as error:
                raise dg.Failure(description=str(error), metadata={"feed": feed.name}) from error
            for rejected in load.with_status("rejected"):
                context.log.warning(f"rejected {rejected.error}")
            yield dg.MaterializeResult(metadata=load_metadata(load))
            # The load rewrote the audit's view too: recorded, so the UI never shows it as missing.
            yield dg.AssetMaterialization(asset_key=LOAD_AUDIT, description=f"written by the load of the {feed.name} feed")
            over, under = quarantine_shares(con, feed.name, warehouse.max_quarantined_share)
            report = load.report or ValidationReport(feed.raw_table, 0)
            for warning in under:
                context.log.warning(warning)
            yield report_check_result(
                key, CONTRACT_CHECK, report, problems=over, warnings=under,
                metadata={"files_over_limit": len(over), "max_quarantined_share": warehouse.max_quarantined_share},
            )
            if feed.format == "ministry_table":
                yield _population_totals_check(con, key)

    return raw_asset


def load_metadata(load: FeedLoad) -> dict[str, Any]:
    """What a load did, file by file, for the raw asset's materialization."""
    touched = [f for f in load.files if f.status != "unchanged"]
    table = ["| file | status | rows read | loaded | quarantined | error |", "|---|---|---:|---:|---:|---|"]
    table += [
        f"| {f.source_file} | {f.status} | {f.rows_read:,} | {f.rows_loaded:,} | {f.rows_quarantined:,} | {(f.error or '').replace('|', '/')} |"
        for f in touched[:100]
    ]
    return {
        "dagster/row_count": load.rows_in_table,
        **{f"files_{status}": len(load.with_status(status)) for status in ("loaded", "unchanged", "rejected", "removed")},
        "rows_read": sum(f.rows_read for f in load.files),
        "rows_loaded": sum(f.rows_loaded for f in load.files),
        "rows_quarantined": sum(f.rows_quarantined for f in load.files),
        "file_loads": dg.MetadataValue.md("\n".join(table) if touched else "Every landed file is unchanged since its last load."),
        "quarantine_table": f"working.quarantine.{load.feed.name}",
    }


def _population_totals_check(con, key: dg.AssetKey) -> dg.AssetCheckResult:
    """National totals against the sum of the provinces loaded. A mismatch in a file with
    quarantined lines is expected (the quarantine check reports those lines) and only warns."""
    mismatches = con.execute(
        """
        SELECT t.year, t.size_class, t.enterprises AS reported, coalesce(sum(p.enterprises), 0) AS provinces, t.source_file, t.line,
               (SELECT count(*) FROM quarantine.population q WHERE q.source_file = t.source_file) AS quarantined
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
        + (f" ({quarantined} line(s) of the file quarantined)" if quarantined else "")
        for year, size, reported, provinces, file, line, quarantined in mismatches
    ] + [f"{file}: no national total row" for (file,) in files_without_total]
    explained = all(quarantined for *_, quarantined in mismatches) and not files_without_total
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=TOTALS_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN if explained else dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) if problems else "Every national total equals the sum of its provinces.",
        metadata={"mismatches": len(problems), "problems": dg.MetadataValue.json(problems[:20])},
    )


raw_assets = [build_raw_asset(feed) for feed in load_contracts().feeds.values()]

# The load audit's view of what is loaded now, written by every raw asset as a side effect of its
# load: shown in the lineage, never materialized on its own, so a failed load blocks only what is
# built from its feed's rows.
load_audit = dg.AssetSpec(
    key=LOAD_AUDIT,
    group_name="raw",
    description=(
        "audit.loaded_files in the working database: every landed file whose rows are loaded now, with its "
        "SHA-256, row counts and the fields its path names (month, platform). Written by the raw assets as "
        "they load; completeness (marts.feed_completeness) is judged on it."
    ),
    deps=[raw_key(feed) for feed in load_contracts().feeds.values()],
    kinds={"duckdb"},
    owners=[OWNER],
    metadata={"dagster/table_name": "working.audit.loaded_files"},
)
