"""Pandera checks as Dagster asset checks: raw tables against contracts, dbt models against their yml."""


import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
import duckdb

from orchestration.contracts import load_contracts
from orchestration.defs.partitions import WAREHOUSE_POOL, run_months
from orchestration.defs.resources import WarehouseResource
from orchestration.validation import ValidationReport, dbt_meta, model_schema, validate

PANDERA_CHECK = "pandera_schema"


def contract_check_result(
    con: duckdb.DuckDBPyConnection,
    key: dg.AssetKey,
    check_name: str,
    table: str,
    node: Mapping[str, Any],
    months: tuple[str, str] | None = None,
) -> dg.AssetCheckResult:
    """Validate a dbt model's table in DuckDB against the rules in its yml, as a check result;
    a monthly model only for the run's `months` (first and last, as first days)."""
    column = dbt_meta(node).get("partition_column")
    where = (lambda t: t[column].between(dt.date.fromisoformat(months[0]), dt.date.fromisoformat(months[1]))) if column and months else None
    report = validate(con, table, model_schema(node, load_contracts(), con), where=where)
    return report_check_result(key, check_name, report, metadata={"months": f"{months[0][:7]} to {months[1][:7]}"} if where else None)


def report_check_result(
    key: dg.AssetKey,
    check_name: str,
    report: ValidationReport,
    problems: Sequence[str] = (),
    warnings: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """A Pandera report as a check result; other `problems` fail it too, `warnings` are only told."""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name,
        passed=report.passed and not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join([*problems, *(f"warning: {w}" for w in warnings), report.summary()])[:4000],
        metadata={
            "table": report.table,
            "rows_checked": report.rows,
            "failed_checks": len(report.failures),
            "failing_rows": sum(f.count for f in report.failures),
            "failure_cases": dg.MetadataValue.json(
                [{"column": f.column, "check": f.check, "count": f.count, "sample": f.sample} for f in report.failures]
            ),
            **(metadata or {}),
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
        pool=WAREHOUSE_POOL,
    )
    def model_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
        selected = {check.asset_key for check in context.selected_asset_check_keys}
        months = run_months(context.run.tags)
        with warehouse.connect(read_only=True) as con:
            for key, node in models.items():
                if key in selected:
                    yield contract_check_result(con, key, PANDERA_CHECK, f"{node['schema']}.{node['name']}", node, months)

    return model_checks
