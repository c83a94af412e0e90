"""dbt models as Dagster assets, in two steps so Pandera can gate the marts on staging."""


import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.checks import build_model_checks
from orchestration.defs.raw import OWNER
from orchestration.defs.resources import WarehouseResource, dbt_project

# dbt unit tests run in the test suite (tests/test_dbt_unit.py), not on every production build.
BUILD_ARGS = ["build", "--exclude", "resource_type:unit_test"]


def layer(props: Mapping[str, Any]) -> str:
    """staging / intermediate / marts from the model's folder; seeds are reference data."""
    if props["resource_type"] == "seed":
        return "reference"
    return props["fqn"][1]


class IndicatorTranslator(DagsterDbtTranslator):
    """Keys and groups by layer: `staging/stg_sales__daily_sales`, `marts/indicators`, ..."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key: raw/<feed>
        return dg.AssetKey([layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return layer(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return [OWNER]


TRANSLATOR = IndicatorTranslator()


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource) -> Iterator:
    target = warehouse.dbt_target_path(context.op_execution_context.op.name)
    with warehouse.dbt_environment():
        yield from dbt.cli(BUILD_ARGS, context=context, target_path=target).stream()


@dbt_assets(manifest=dbt_project().manifest_path, select="staging", dagster_dbt_translator=TRANSLATOR, name="dbt_staging", project=dbt_project())
def dbt_staging(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _build(context, dbt, warehouse)


@dbt_assets(
    manifest=dbt_project().manifest_path,
    select="intermediate marts resource_type:seed",
    dagster_dbt_translator=TRANSLATOR,
    name="dbt_marts",
    project=dbt_project(),
)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from _build(context, dbt, warehouse)


@cache
def models_in_layer(name: str) -> dict[dg.AssetKey, Mapping[str, Any]]:
    manifest = json.loads(dbt_project().manifest_path.read_text())
    return {
        TRANSLATOR.get_asset_key(node): node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and layer(node) == name
    }


staging_checks = build_model_checks("pandera_staging", models_in_layer("staging"))
marts_checks = build_model_checks("pandera_marts", models_in_layer("marts"))
