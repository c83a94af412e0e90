"""Pandera checks as Dagster asset checks: raw tables against contracts, dbt models against their yml."""


from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import duckdb

from orchestration.contracts import FeedContract, load_contracts
from orchestration.defs.resources import WarehouseResource
from orchestration.validation import feed_schema, model_schema, validate

PANDERA_CHECK = "pandera_schema"


def contract_check_result(
    con: duckdb.DuckDBPyConnection,
    key: dg.AssetKey,
    check_name: str,
    table: str,
    feed: FeedContract | None = None,
    node: Mapping[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """Validate `table` in DuckDB (against a feed contract or a dbt node's yml) as a check result."""
    contracts = load_contracts()
    schema = feed_schema(contracts, feed, con) if feed is not None else model_schema(node, contracts, con)
    report = validate(con, table, schema)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name,
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary()[:4000],
        metadata={
            "table": table,
            "rows_checked": report.rows,
            "failed_checks": len(report.failures),
            "failing_rows": sum(f.count for f in report.failures),
            "failure_cases": dg.MetadataValue.json(
                [{"column": f.column, "check": f.check, "count": f.count, "sample": f.sample} for f in report.failures]
            ),
        },
    )


def build_model_checks(name: str, models: Mapping[dg.AssetKey, Mapping[str, Any]]) -> dg.AssetChecksDefinition:
    """One blocking Pandera check per dbt model of a layer, run together on one connection."""

    @dg.multi_asset_check(
        name=name,
        specs=[
            dg.AssetCheckSpec(
                PANDERA_CHECK,
                asset=key,
                blocking=True,
                description=f"Pandera: {node['schema']}.{node['name']} meets the column rules and key in its dbt yml.",
            )
            for key, node in models.items()
        ],
        can_subset=True,
        compute_kind="pandera",
    )
    def model_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
        selected = {check.asset_key for check in context.selected_asset_check_keys}
        with warehouse.connect(read_only=True) as con:
            for key, node in models.items():
                if key in selected:
                    yield contract_check_result(con, key, PANDERA_CHECK, f"{node['schema']}.{node['name']}", node=node)

    return model_checks
