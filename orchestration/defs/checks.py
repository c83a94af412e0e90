"""Pandera checks as Dagster asset checks: each dbt model against its yml (what the model adds)."""

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from orchestration.contracts import load_contracts
from orchestration.defs.partitions import WAREHOUSE_POOL, run_months
from orchestration.defs.resources import WarehouseResource
from orchestration.quality.validation import dbt_meta, model_schema, validate

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

PANDERA_CHECK = "pandera_schema"


def model_check_result(
    backend: "BaseBackend",
    key: dg.AssetKey,
    table: str,
    node: Mapping[str, Any],
    months: tuple[str, str] | None = None,
) -> dg.AssetCheckResult:
    """Validate a dbt model's table in the engine holding it (`backend`) against the rules in its
    yml, as a check result; a monthly model only for the run's `months` (first and last, as first days)."""
    column = dbt_meta(node).get("partition_column")
    where = (lambda t: t[column].between(dt.date.fromisoformat(months[0]), dt.date.fromisoformat(months[1]))) if column and months else None
    report = validate(backend, table, model_schema(node, load_contracts(), backend), where=where)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=PANDERA_CHECK,
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary()[:4000],
        metadata={
            "table": report.table,
            "rows_checked": report.rows,
            "failed_checks": len(report.failures),
            "failing_rows": sum(f.count for f in report.failures),
            "failure_cases": dg.MetadataValue.json([{"column": f.column, "check": f.check, "count": f.count, "sample": f.sample} for f in report.failures]),
            **({"months": f"{months[0][:7]} to {months[1][:7]}"} if where else {}),
        },
    )


def build_model_checks(name: str, models: Mapping[dg.AssetKey, Mapping[str, Any]], releases: bool = False) -> dg.AssetChecksDefinition:
    """One blocking Pandera check per dbt model of a layer, run together on one connection to the
    engine holding them: the run's, or, for the `releases`, the engine they are built on."""

    @dg.multi_asset_check(
        name=name,
        specs=[
            dg.AssetCheckSpec(
                PANDERA_CHECK,
                asset=key,
                blocking=True,
                description=(
                    f"Pandera: {node['schema']}.{node['name']} has the column types and meets the column rules in its "
                    "dbt yml (its key is a dbt test; the rules of the feed it projects, ingest's)."
                ),
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
        engine = warehouse.run_engine.releases if releases else warehouse.run_engine
        with warehouse.models_backend(engine) as backend:
            for key, node in models.items():
                if key in selected:
                    yield model_check_result(backend, key, f"{node['schema']}.{node['name']}", node, months)

    return model_checks
