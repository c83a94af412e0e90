"""dbt models as Dagster assets, in two steps so Pandera can gate the marts on staging."""

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets
from pydantic import Field

from orchestration.cache import kept
from orchestration.contracts.rendering import indicator_catalog
from orchestration.defs.checks import build_model_checks
from orchestration.defs.dbt_runner import DbtCoreInvocation, DbtCoreResource
from orchestration.defs.lineage import SOURCE_COLUMNS, Lineage, recorded_lineage, source_columns_markdown
from orchestration.defs.partitions import WAREHOUSE_POOL, month_keys, monthly, single_run
from orchestration.defs.raw import OWNER
from orchestration.defs.resources import WarehouseResource, dbt_project, retry_if_locked
from orchestration.engines import Engine, ModelTable
from orchestration.engines.base import Column
from orchestration.quality.validation import dbt_meta
from orchestration.serving.charts import headline_charts
from orchestration.serving.history import roll_back_unpublished
from orchestration.serving.publish import code_version
from orchestration.serving.releases import latest_release_revisions
from orchestration.text import markdown_text

# dbt unit tests run in the test suite (tests/test_dbt_unit.py), not on every production build.
BUILD_ARGS = ["build", "--exclude", "resource_type:unit_test"]


# The snapshot of marts.indicators and what is built from it, after every mart passed its checks.
RELEASES = "releases"


def layer(props: Mapping[str, Any]) -> str:
    """staging / intermediate / marts / releases from the model's folder; seeds are reference data."""
    if props["resource_type"] == "seed":
        return "reference"
    if props["resource_type"] == "snapshot":
        return RELEASES
    return props["fqn"][1]


class IndicatorTranslator(DagsterDbtTranslator):
    """Keys and groups by layer: `staging/stg_sales__daily_sales`, `marts/indicators`, ..."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key: raw/<feed>
        if layer(dbt_resource_props) == RELEASES:
            # Named where they live: history/<name> in the history database, marts/<name> beside the marts.
            where = "history" if dbt_resource_props["database"] == "history" else dbt_resource_props["schema"]
            return dg.AssetKey([where, dbt_resource_props["name"]])
        return dg.AssetKey([layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return layer(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return [OWNER]

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        """Marts show the definitions of the indicators they feed (from the catalog seed)."""
        metadata = dict(super().get_metadata(dbt_resource_props))
        codes = dbt_meta(dbt_resource_props).get("indicators")
        if codes:
            metadata["indicator_catalog"] = dg.MetadataValue.md(catalog_markdown(None if codes == "all" else codes))
        return metadata


def catalog_markdown(codes: list[str] | None) -> str:
    rows = [r for r in indicator_catalog() if codes is None or r["indicator_code"] in codes]
    lines = ["| indicator | unit | definition | source feeds | origin | source |", "|---|---|---|---|---|---|"]
    lines += [
        f"| **{r['indicator_code']}** {r['indicator_name']} | {r['unit_measure']} | {r['definition']} | {r['source_feeds']} | {r['origin']} | {markdown_text(r['source'])} |"
        for r in rows
    ]
    return "\n".join(lines)


TRANSLATOR = IndicatorTranslator()


class DbtBuildConfig(dg.Config):
    full_refresh: bool = Field(default=False, description="Rebuild the incremental models from every row (dbt --full-refresh).")


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCoreResource,
    warehouse: WarehouseResource,
    engine: Engine,
    config: DbtBuildConfig,
    charts: bool,
    variables: dict[str, str] | None = None,
) -> Iterator:
    """`dbt build` of the step's selection (with dbt `variables`) on `engine`, its events with the
    warehouse's metadata, then the step fails if dbt did (after recording what did finish). The
    marts it built are then where publishing and the releases read them (the engine's after_dbt)."""
    args = [*BUILD_ARGS, *(["--full-refresh"] if config.full_refresh else [])]
    variables = dict(variables or {})
    if context.assets_def.partitions_def is not None:
        window = context.partition_time_window
        variables.update(month_from=window.start.strftime("%Y-%m-01"), month_to=f"{month_keys(window)[-1]}-01")
    if variables:
        args += ["--vars", json.dumps(variables)]
    target_path = warehouse.dbt_target_path(context.op_execution_context.op.name)
    warehouse.wait_until_free()  # dbt itself fails at once on a lock held outside Dagster
    engine.before_dbt()
    with warehouse.dbt_environment():
        invocation = dbt.cli(args, context=context, target_path=target_path, target=engine.name)
    # The lock taken again between the wait and dbt's own open: the step retries, same policy.
    with retry_if_locked(warehouse.lock_retries, warehouse.lock_retry_seconds):
        if invocation.is_successful():
            _bring_marts(context, warehouse, engine)
        yield from _with_warehouse_metadata(context, invocation, warehouse, charts, engine)


def _bring_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource, engine: Engine) -> None:
    """The marts this step built, where publishing and the releases read them (the working database)."""
    selected = set(context.selected_asset_keys)
    marts = [
        ModelTable(
            node["schema"],
            node["name"],
            list(node["columns"]),
            {None: node["description"], **{c["name"]: c["description"] for c in node["columns"].values() if c.get("description")}},
        )
        for node in models("marts")
        if TRANSLATOR.get_asset_key(node) in selected
    ]
    for mart, rows in engine.after_dbt(warehouse.connect, marts):
        context.log.info(f"marts.{mart}: {rows:,} rows copied from {engine.name} into {warehouse.working_db.name}")


# Metadata by model name, e.g. {"onboarding_rate": {"dagster/column_schema": ...}}.
ModelMetadata = dict[str, dict[str, Any]]


def _with_warehouse_metadata(context: dg.AssetExecutionContext, invocation: DbtCoreInvocation, warehouse: WarehouseResource, charts: bool, engine: Engine) -> Iterator:
    """The step's events with what the warehouse knows once dbt is done: column types, where the
    work ran, and, once dbt succeeded (a failed step's failure is dbt's), the headline charts, the
    latest release's revisions and the column lineage."""
    selected = set(context.selected_asset_keys)
    built = [(n["schema"], n["name"]) for n in models("staging", "intermediate", "marts", RELEASES) if TRANSLATOR.get_asset_key(n) in selected]
    with warehouse.connect(read_only=True) as con:
        columns = engine.model_columns(con, built)
        parts = [_column_schemas(columns)]
        if invocation.is_successful():
            parts += [_charts(con, selected) if charts else {}, _revisions(con, selected)]
        where = engine.where_it_ran()
        parts.append({table: where for table, *_ in columns})
        if invocation.is_successful():
            parts.append(_lineage(context, con, invocation, engine))
    extra: ModelMetadata = {}
    for part in parts:
        for model, metadata in part.items():
            extra.setdefault(model, {}).update(metadata)
    for event in invocation.stream():
        if isinstance(event, dg.Output):
            model = context.asset_key_for_output(event.output_name).path[-1]
            if extra.get(model):
                event = event.with_metadata({**event.metadata, **extra[model]})
        yield event


def _column_schemas(columns: list[Column]) -> ModelMetadata:
    """Each table's dagster/column_schema: its columns' types, described by the engine's comment or,
    where it holds none (views, intermediate tables), the yml's."""
    described = _column_descriptions()
    schemas: dict[str, list[dg.TableColumn]] = {}
    for table, column, data_type, comment in columns:
        schemas.setdefault(table, []).append(dg.TableColumn(column, data_type, description=comment or described.get((table, column))))
    return {table: {"dagster/column_schema": dg.TableSchema(columns=found)} for table, found in schemas.items()}


def _charts(con, selected: set[dg.AssetKey]) -> ModelMetadata:
    """The headline charts, on the marts they read: drawn when this step built all of them."""
    if not {k for k in models_in_layer("marts") if k.path[-1] not in monthly_models()} <= selected:
        return {}
    drawn: ModelMetadata = {}
    for chart in headline_charts(con):
        drawn.setdefault(chart.mart, {})[f"chart_{chart.name}"] = dg.MetadataValue.md(chart.markdown())
    return drawn


def _revisions(con, selected: set[dg.AssetKey]) -> ModelMetadata:
    """The latest release's revisions, on the vintages and the revisions, when this step built the releases."""
    if not set(models_in_layer(RELEASES)) & selected:
        return {}
    revised = latest_release_revisions(con).metadata()
    return {model: dict(revised) for model in ("indicator_vintages", "indicator_revisions")}


def _lineage(context: dg.AssetExecutionContext, con, invocation: DbtCoreInvocation, engine: Engine) -> ModelMetadata:
    """Each built model's dagster/column_lineage, where the working database holds the relations
    it reads and builds (the engine's relation_columns); on each mart, its columns' sources."""
    relations = engine.relation_columns(con)
    if not relations:
        return {}
    found: ModelMetadata = {}
    built: dict[dg.AssetKey, Lineage] = {}
    for event in invocation.events:
        if isinstance(event, dg.Output) and (lineage := _column_lineage(event, relations, invocation.target_path)):
            key = context.asset_key_for_output(event.output_name)
            found.setdefault(key.path[-1], {}).update(lineage)
            built[key] = lineage["dagster/column_lineage"].deps_by_column
    # On the marts, each column followed to the raw (and audit) columns it is computed from.
    lineage_of = recorded_lineage(context.instance, built)
    for key, lineage in built.items():
        if key.path[0] == "marts":
            found[key.path[-1]][SOURCE_COLUMNS] = dg.MetadataValue.md(source_columns_markdown(key, lineage, lineage_of))
    return found


def _column_lineage(event: dg.Output, relations: Mapping[str, Mapping[str, Any]], target_path) -> dict[str, Any]:
    """dagster/column_lineage of a model built in the working database: each column's columns in the
    model's parents, from its compiled SQL (dagster-dbt's sqlglot lineage, on the columns DuckDB
    holds, so no query per parent). Empty for a model whose relations are not all there (the
    releases in the history database) or whose SQL sqlglot cannot follow (then it logs why)."""
    node = manifest()["nodes"].get(event.metadata["unique_id"].value)
    if node is None or node["resource_type"] != "model":
        return {}
    parent_props = [manifest()["nodes"].get(parent) or manifest()["sources"][parent] for parent in node["depends_on"]["nodes"]]
    parents = {props["relation_name"]: relations.get(props["relation_name"]) for props in parent_props}
    columns = relations.get(node["relation_name"])
    if columns is None or None in parents.values():
        return {}
    # The lineage is a function of the compiled SQL, the columns it reads and writes and the asset
    # keys: found once for the same inputs, in any process of this checkout (every run after the first).
    compiled = Path(target_path) / "compiled" / node["package_name"] / node["original_file_path"]
    keys = [TRANSLATOR.get_asset_key(props).to_user_string() for props in [node, *parent_props]]
    inputs = json.dumps([_lineage_code(), keys, compiled.read_text(), columns, parents], sort_keys=True, default=str)
    return kept("column_lineage", inputs, lambda: _sqlglot_lineage(node, columns, parents, target_path), _dump_lineage, _load_lineage)


@cache
def _lineage_code() -> list[str]:
    """The versions of the code that finds column lineage: part of what a kept lineage is found from
    (read at the first lineage, not when the code location loads)."""
    return [f"{package} {version(package)}" for package in ("dagster-dbt", "sqlglot")]


def _dump_lineage(found: dict[str, Any]) -> str:
    return dg.serialize_value(found["dagster/column_lineage"])


def _load_lineage(text: str) -> dict[str, Any]:
    return {"dagster/column_lineage": dg.deserialize_value(text, dg.TableColumnLineage)}


def _sqlglot_lineage(node: Mapping[str, Any], columns: Mapping[str, Any], parents: Mapping[str, Any], target_path) -> dict[str, Any]:
    from dagster_dbt.core.dbt_cli_event import EventHistoryMetadata, _build_column_lineage_metadata

    try:
        return _build_column_lineage_metadata(
            event_history_metadata=EventHistoryMetadata(columns=columns, parents=parents),
            dbt_resource_props=node,
            manifest=manifest(),
            dagster_dbt_translator=TRANSLATOR,
            target_path=target_path,
            project=None,
        )
    except Exception as error:  # sqlglot's parser or optimizer: the model is built, its lineage not shown
        dg.get_dagster_logger().warning(f"no column lineage for {node['name']}: {type(error).__name__}: {error}")
        return {}


@cache
def manifest() -> dict[str, Any]:
    return json.loads(dbt_project().manifest_path.read_text())


@cache
def monthly_models() -> tuple[str, ...]:
    """Models built month by month: those whose yml names a `partition_column`."""
    return tuple(sorted(n["name"] for n in manifest()["nodes"].values() if n["resource_type"] == "model" and "partition_column" in dbt_meta(n)))


def dbt_step(name: str, description: str, select: str, exclude: str = "", partitioned: bool = False, charts: bool = False, releases: bool = False) -> dg.AssetsDefinition:
    """A dbt step: the models `select` names (less `exclude`), built by one `dbt build` on the run's
    engine, month by month when `partitioned`; with the headline charts when it builds the marts
    (`charts`); the `releases` step first prepares what the releases need, then builds on the engine
    that holds them."""

    def step(context: dg.AssetExecutionContext, dbt: DbtCoreResource, warehouse: WarehouseResource, config: DbtBuildConfig):
        engine, variables = warehouse.run_engine, {}
        if releases:
            variables = _prepare_releases(context, dbt, warehouse, engine)
            engine = engine.releases
        yield from _build(context, dbt, warehouse, engine, config, charts, variables)

    step.__doc__ = description
    return dbt_assets(
        manifest=dbt_project().manifest_path,
        select=select,
        exclude=exclude,
        dagster_dbt_translator=TRANSLATOR,
        name=name,
        partitions_def=monthly if partitioned else None,
        backfill_policy=single_run if partitioned else None,
        pool=WAREHOUSE_POOL,
    )(step)


def _prepare_releases(context: dg.AssetExecutionContext, dbt: DbtCoreResource, warehouse: WarehouseResource, engine: Engine) -> dict[str, str]:
    """Before the releases: a release an earlier run made and did not publish rolled back, the
    staging views they read built in the working database where the engine built them elsewhere;
    the dbt variables naming this run's release."""
    for rolled_back in roll_back_unpublished(warehouse.history_db, warehouse.published_db):
        context.log.warning(rolled_back.line())
    staging = {node["unique_id"]: node["name"] for node in models("staging")}
    read = sorted({staging[parent] for node in models(RELEASES) for parent in node["depends_on"]["nodes"] if parent in staging})
    if views := engine.release_inputs(read):
        with warehouse.dbt_environment():
            dbt.run(["run", "--select", *views], target=engine.releases.name, target_path=warehouse.dbt_target_path("dbt_releases_inputs"))
    return {"release_run_id": context.run.run_id, "code_version": code_version()}


dbt_monthly = dbt_step(
    "dbt_monthly",
    """The month-grained models: staging views of the monthly feeds and the incremental models
    over them, for the run's months (dbt vars month_from / month_to).""",
    select=" ".join(monthly_models()),
    partitioned=True,
)
dbt_releases = dbt_step(
    "dbt_releases",
    """Once every mart passed its checks: snapshot marts.indicators into the history database (a
    release when an observation changed), then the vintages, the revisions and the claims checked
    against the current release. A release an earlier run made and did not publish is rolled back
    first: a release exists once it is published.""",
    select=f"resource_type:snapshot {RELEASES}",
    releases=True,
)
dbt_marts = dbt_step(
    "dbt_marts",
    """Everything else: the other staging views, the intermediate models and the marts, rebuilt
    from the monthly aggregates (small) and the other feeds.""",
    select="staging intermediate marts resource_type:seed",
    exclude=" ".join(monthly_models()),
    charts=True,
)


@cache
def _column_descriptions() -> dict[tuple[str, str], str]:
    return {
        (node["name"], column["name"]): column.get("description") or None
        for node in manifest()["nodes"].values()
        if node["resource_type"] == "model"
        for column in node["columns"].values()
    }


def checked_models(monthly_only: bool) -> dict[dg.AssetKey, Mapping[str, Any]]:
    """Staging models and marts (the layers Pandera checks), monthly or not; not a model whose rows
    are another's, checked there (a feed's part of the load audit)."""
    return {
        TRANSLATOR.get_asset_key(node): node
        for node in models("staging", "marts")
        if ("partition_column" in dbt_meta(node)) == monthly_only and "rows_checked_in" not in dbt_meta(node)
    }


def models(*layers: str) -> list[Mapping[str, Any]]:
    """The manifest's models in these layers (staging, intermediate, marts, releases)."""
    return [n for n in manifest()["nodes"].values() if n["resource_type"] == "model" and layer(n) in layers]


def models_in_layer(name: str) -> list[dg.AssetKey]:
    return [TRANSLATOR.get_asset_key(n) for n in models(name)]


# The monthly models' checks run between the two dbt steps, so a failure stops the marts.
monthly_checks = build_model_checks("pandera_monthly", checked_models(monthly_only=True))
model_checks = build_model_checks("pandera_models", checked_models(monthly_only=False))
# The release step's models in the working database; they run after the marts' checks.
release_checks = build_model_checks(
    "pandera_releases",
    {TRANSLATOR.get_asset_key(n): n for n in models(RELEASES) if n["database"] != "history"},
    releases=True,
)
