"""The Dagster code location of the indicator warehouse."""

import dagster as dg

from orchestration.defs.dbt import dbt_marts, dbt_staging, marts_checks, staging_checks
from orchestration.defs.jobs import indicators_job
from orchestration.defs.publish import exports, indicators_db, report
from orchestration.defs.raw import raw_assets
from orchestration.defs.resources import default_resources

defs = dg.Definitions(
    assets=[*raw_assets, dbt_staging, dbt_marts, indicators_db, exports, report],
    asset_checks=[staging_checks, marts_checks],
    jobs=[indicators_job],
    resources=default_resources(),
    # DuckDB has one writer per file: steps run one after another in one process, which also
    # spares the per-step interpreter start and imports of the multiprocess executor.
    executor=dg.in_process_executor,
)
