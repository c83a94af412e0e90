"""One raw asset per landed feed, loaded by DuckDB and held to its contract by ingest."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from orchestration.contracts import FeedContract, dbt_source_name, is_monthly, load_contracts
from orchestration.defs.partitions import WAREHOUSE_POOL, month_keys, monthly, single_run
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.audit import quarantine_shares
from orchestration.ingest.commit import STATUSES, FeedLoad
from orchestration.ingest.load import load_feed
from orchestration.ingest.ministry_table import totals_columns, totals_table
from orchestration.ingest.staged import FeedError
from orchestration.sql import quoted
from orchestration.text import markdown_text, printable

CONTRACT_CHECK = "contract"
TOTALS_CHECK = "national_total_matches_provinces"
OWNER = "team:data-engineering"


LOAD_AUDIT = dg.AssetKey(["audit", "loaded_files"])


def raw_key(feed: FeedContract) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed.name])


def published_totals_key(feed: FeedContract) -> dg.AssetKey | None:
    """The asset of a table's national line when it is published (not only checked against a sum)."""
    return dg.AssetKey(["raw", feed.layout["totals_table"]]) if feed.is_table and not feed.checks_totals else None


def feed_audit_key(feed: FeedContract) -> dg.AssetKey:
    """A monthly feed's part of the load audit, which its completeness is judged on."""
    return dg.AssetKey(["audit", f"{feed.name}_files"])


def _column_schema(feed: FeedContract) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in feed.raw_columns])


def _dependencies(feed: FeedContract) -> list[dg.AssetKey]:
    """Feeds whose tables this feed's rules or loader read (references; a ministry table's names
    resolve through the feed its name column references)."""
    contracts = load_contracts()
    deps = {raw_key(reference[0]) for c in feed.columns if (reference := contracts.reference(c.rules))}
    return sorted(deps - {raw_key(feed)}, key=lambda k: k.to_user_string())


def build_raw_asset(feed: FeedContract) -> dg.AssetsDefinition:
    key = raw_key(feed)
    check_specs = [
        dg.AssetCheckSpec(
            CONTRACT_CHECK,
            asset=key,
            blocking=True,
            description=(
                f"Ingest held every row read into {feed.raw_table} to the {feed.name} contract (types, rules, key; a row "
                "breaking one is quarantined), and no loaded file has more of its rows quarantined than the limit "
                "(WarehouseResource.max_quarantined_share)."
            ),
        )
    ]
    if feed.checks_totals:
        check_specs.append(
            dg.AssetCheckSpec(
                TOTALS_CHECK,
                asset=key,
                blocking=True,
                description=f"The table's national total row equals the sum of its {feed.layout['name_noun']}s, value by value.",
            )
        )

    description = f"{feed.title}. {feed.description} Loaded from {', '.join(feed.files)} into {feed.raw_table}."
    kinds = {"duckdb", "csv", *(["parquet"] if any(f.endswith(".parquet") for f in feed.files) else [])}
    metadata = {
        "dagster/column_schema": _column_schema(feed),
        "dagster/table_name": f"working.{feed.raw_table}",
        "contract_key": ", ".join(feed.key),
        "dbt_source": dbt_source_name(feed),
    }
    specs = [dg.AssetSpec(key, group_name="raw", description=description, kinds=kinds, owners=[OWNER], deps=_dependencies(feed), metadata=metadata, tags={"layer": "raw"})]
    if (national := published_totals_key(feed)) is not None:
        # The national line of a table whose figures do not add up is a figure of its own, which
        # the same load writes to the layout's totals table (a dbt source of its own).
        specs.append(
            dg.AssetSpec(
                national,
                group_name="raw",
                kinds={"duckdb"},
                owners=[OWNER],
                tags={"layer": "raw"},
                description=f"The national line ({feed.layout['national_total_label']}) of the {feed.name} feed's tables, as published; "
                f"written by the load of raw/{feed.name} into {totals_table(feed)}.",
                metadata={"dagster/table_name": f"working.{totals_table(feed)}"},
            )
        )

    @dg.multi_asset(
        name=f"raw__{feed.name}",
        specs=specs,
        check_specs=check_specs,
        partitions_def=monthly if is_monthly(feed) else None,
        backfill_policy=single_run if is_monthly(feed) else None,
        pool=WAREHOUSE_POOL,
    )
    def raw_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator:
        # A monthly feed loads the files of the run's months only; the others all their files.
        months = set(month_keys(context.partition_time_window)) if is_monthly(feed) else None
        with warehouse.connect() as con:
            try:
                load = load_feed(con, feed, warehouse.sources_path, context.run.run_id, months=months, confirmed=confirmed_files(context.run.tags))
            except FeedError as error:
                raise dg.Failure(description=str(error), metadata={"feed": feed.name}) from error
            for status in ("rejected", "held"):
                for file in load.with_status(status):
                    context.log.warning(f"{status} {printable(file.error)}")
            metadata = {**load_metadata(load), **warehouse.run_engine.after_load(con, feed, load)}  # Spark: landed in the lake
            # The load rewrote the audit's view too (the whole and the feed's part): recorded, so
            # the UI never shows them as missing and what is built on them is stale until rebuilt.
            yield dg.AssetMaterialization(asset_key=LOAD_AUDIT, description=f"written by the load of the {feed.name} feed")
            if is_monthly(feed):
                yield dg.AssetMaterialization(asset_key=feed_audit_key(feed), description=f"written by the load of the {feed.name} feed")
            over, under = quarantine_shares(con, feed.name, warehouse.max_quarantined_share)
            for warning in under:
                context.log.warning(printable(warning))
            checks = [_contract_check(con, key, load, over, under, warehouse.max_quarantined_share)]
            if feed.checks_totals:
                checks.append(_totals_check(con, key, feed))
            # Checked before the asset is recorded as materialized: a blocking check that fails
            # fails the step, and its partitions are not materialized (nothing downstream runs).
            blocked = [c.check_name for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
            if not blocked:
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
                if national is not None:
                    yield dg.MaterializeResult(asset_key=national, metadata={"rows": con.execute(f"SELECT count(*) FROM {totals_table(feed)}").fetchone()[0]})
            yield from checks
            if blocked:
                raise dg.Failure(
                    description=f"{key.to_user_string()} is not recorded as materialized: its blocking check {', '.join(blocked)} failed.",
                    metadata={"feed": feed.name, **{k: v for k, v in metadata.items() if not k.startswith("dagster/")}},  # what the load did
                )

    return raw_asset


# The run tag naming the landed files whose held change the data engineer confirms (a JSON list of
# source files; `make run CONFIRM=...` sets it).
CONFIRM_TAG = "dei/confirm"


def confirmed_files(tags: Mapping[str, str]) -> frozenset[str]:
    return frozenset(json.loads(tags[CONFIRM_TAG])) if CONFIRM_TAG in tags else frozenset()


def load_metadata(load: FeedLoad) -> dict[str, Any]:
    """What a load did, file by file, for the raw asset's materialization."""
    touched = [f for f in load.files if f.status != "unchanged"]
    table = ["| file | status | rows read | loaded | quarantined | error |", "|---|---|---:|---:|---:|---|"]
    table += [
        f"| {markdown_text(f.source_file)} | {f.status} | {f.rows_read:,} | {f.rows_loaded:,} | {f.rows_quarantined:,} | {markdown_text(f.error or '')} |" for f in touched[:100]
    ]
    return {
        "dagster/row_count": load.rows_in_table,
        **{f"files_{status}": len(load.with_status(status)) for status in STATUSES},
        "rows_read": sum(f.rows_read for f in load.files),
        "rows_loaded": sum(f.rows_loaded for f in load.files),
        "rows_quarantined": sum(f.rows_quarantined for f in load.files),
        "file_loads": dg.MetadataValue.md("\n".join(table) if touched else "Every landed file is unchanged since its last load."),
        "quarantine_table": f"working.quarantine.{load.feed.name}",
    }


def _contract_check(con, key: dg.AssetKey, load: FeedLoad, over: list[str], under: list[str], limit: float) -> dg.AssetCheckResult:
    """What ingest's enforcement of the contract did in this load: rows read and quarantined, by
    rule and column (from the quarantine table, no scan of the loaded rows); fails when a file
    has more of its rows quarantined than the limit."""
    broken = con.execute(
        f"""
        SELECT rule, column_name, count(*), list(reason ORDER BY source_file, line)[1:3]
        FROM quarantine.{quoted(load.feed.name)} WHERE source_file IN (SELECT unnest($files))
        GROUP BY ALL ORDER BY 3 DESC, 1, 2
        """,
        {"files": load.changed_files},
    ).fetchall()
    read, quarantined = sum(f.rows_read for f in load.files), sum(f.rows_quarantined for f in load.files)
    outcome = f"{load.feed.raw_table}: {read - quarantined:,} of {read:,} rows read met the contract" if read else f"{load.feed.raw_table}: no rows read"
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CONTRACT_CHECK,
        passed=not over,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join([*over, *(f"warning: {w}" for w in under), outcome])[:4000],
        metadata={
            "rows_read": read,
            "rows_quarantined": quarantined,
            "quarantined_by_rule": dg.MetadataValue.json([{"rule": rule, "column": column, "count": count, "sample": sample} for rule, column, count, sample in broken]),
            "files_over_limit": len(over),
            "max_quarantined_share": limit,
        },
    )


def _totals_check(con, key: dg.AssetKey, feed: FeedContract) -> dg.AssetCheckResult:
    """A ministry table's total line against the sum of the rows loaded (population: national totals
    against the provinces, per year and size class). A mismatch in a file with quarantined lines is
    expected (the quarantine check reports those lines) and only warns."""
    layout, totals = feed.layout, totals_table(feed)
    unpivot = layout.get("unpivot")
    values = [unpivot["value_column"]] if unpivot else [layout["value_column"]] if layout.get("value_column") else list(layout["value_columns"].values())
    # An official table's status and note describe a value; they are not what it is grouped by.
    described = (layout.get("status_column"), layout.get("note_column"))
    groups = [name for name, _ in totals_columns(feed) if name not in (*values, *described, "source_file", "line")]
    shown = [(g, unpivot is None or g != unpivot["category_column"]) for g in groups]
    mismatches = []
    for value in values:
        rows = con.execute(
            f"""
            SELECT [{", ".join(f"t.{quoted(g)}::VARCHAR" for g in groups)}], t.{quoted(value)} AS reported,
                   coalesce(sum(p.{quoted(value)}), 0) AS summed, t.source_file, t.line,
                   (SELECT count(*) FROM quarantine.{quoted(feed.name)} q WHERE q.source_file = t.source_file) AS quarantined
            FROM {totals} t
            LEFT JOIN {feed.raw_table} p USING ({", ".join(quoted(g) for g in groups)})
            GROUP BY ALL
            HAVING reported <> summed
            ORDER BY ALL
            """
        ).fetchall()
        mismatches += [(" ".join(f"{g} {v}" if named else v for (g, named), v in zip(shown, keys, strict=True)) + ("" if unpivot else f" {value}"), *rest) for keys, *rest in rows]
    files_without_total = con.execute(f"SELECT DISTINCT source_file FROM {feed.raw_table} WHERE source_file NOT IN (SELECT source_file FROM {totals})").fetchall()
    problems = [
        f"{file}: line {line}: {what}: national total {reported:,} but the {layout['name_noun']}s sum to {summed:,}"
        + (f" ({quarantined} line(s) of the file quarantined)" if quarantined else "")
        for what, reported, summed, file, line, quarantined in mismatches
    ] + [f"{file}: no national total row" for (file,) in files_without_total]
    explained = all(quarantined for *_, quarantined in mismatches) and not files_without_total
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=TOTALS_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN if explained else dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) if problems else f"Every national total equals the sum of its {layout['name_noun']}s.",
        metadata={"mismatches": len(problems), "problems": dg.MetadataValue.json(problems[:20])},
    )


raw_assets = [build_raw_asset(feed) for feed in load_contracts().feeds.values()]

# The load audit's view of what is loaded now, written by every raw asset as a side effect of its
# load: shown in the lineage, never materialized on its own, so a failed load blocks only what is
# built from its feed's rows. The releases read all of it; completeness reads each monthly feed's
# part, an asset of its own downstream of that feed alone, so an indicator's lineage names the
# feeds its numbers come from, not every feed loaded.
load_audit = dg.AssetSpec(
    key=LOAD_AUDIT,
    group_name="raw",
    description=(
        "audit.loaded_files in the working database: every landed file whose rows are loaded now, with its "
        "SHA-256, row counts and the fields its path names (month, platform). Written by the raw assets as "
        "they load; each release lists the files it was built from."
    ),
    deps=[raw_key(feed) for feed in load_contracts().feeds.values()],
    kinds={"duckdb"},
    owners=[OWNER],
    metadata={"dagster/table_name": "working.audit.loaded_files"},
)

feed_audits = [
    dg.AssetSpec(
        key=feed_audit_key(feed),
        group_name="raw",
        description=(
            f"The {feed.name} feed's rows of audit.loaded_files (feed = '{feed.name}'): its landed files whose rows "
            f"are loaded now, with the month{' and platform' if '(?P<platform>' in feed.path_pattern else ''} their paths name. "
            f"Written by raw/{feed.name} as it loads; the feed's completeness (marts.feed_completeness) is judged on it."
        ),
        deps=[raw_key(feed)],
        kinds={"duckdb"},
        owners=[OWNER],
        metadata={"dagster/table_name": "working.audit.loaded_files"},
    )
    for feed in load_contracts().feeds.values()
    if is_monthly(feed)
]
